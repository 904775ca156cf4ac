// Package store owns tandem's own tables in the service's database (all
// prefixed tandem_): the migration history, the release states (the
// ready-for-contract flag lives there) and the append-only journal. They are
// the single source of truth that runners, instances and operators share.
//
//	if err := store.Ensure(ctx, db); err != nil { ... }
//	states, err := store.ReleaseStates(ctx, db)
package store
