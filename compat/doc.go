// Package compat is tandem's GORM plugin: it takes part in every statement a
// service sends through GORM and keeps the rows of versioned models
// consistent across two running releases.
//
// Register it once per *gorm.DB with the release the binary implements:
//
//	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
//	if err != nil { ... }
//	p := compat.New(versions.MustParse("2.0"), compat.WithModels(&Customer{}))
//	if err := db.Use(p); err != nil { ... } // *GuardError: refused to start
//	defer p.Close()
//
// At Initialize the plugin runs the start-up guard, records the models in
// the model registry and the instance in the instance registry, and starts
// watching the release states (polling, and LISTEN/NOTIFY on PostgreSQL).
// For models that add or deprecate fields in its release it runs in
// dual-model mode L(m) (the converters on every write and on reads of older
// rows) until the ready-for-contract flag is set, then in L(c) (deprecated
// fields hidden; naming one fails with *DeprecatedFieldError before any
// SQL). docs/compat.md in the repository is the guide.
//
// # Stamping
//
// For every model that embeds model.Stamp, the plugin writes the running
// release's stamp (versions.Version.Stamp) into obj_version on every write
// path GORM offers: Create (a value, a slice, CreateInBatches, a map through
// Model), Save (both its insert and its update), Updates with a struct or a
// map, Update, UpdateColumn, UpdateColumns, FirstOrCreate (and its Assign),
// and upserts through clause.OnConflict (UpdateAll, DoUpdates with columns or
// with assignments). A Select that leaves obj_version out, or an Omit that
// names it, does not stop the stamp: the plugin adds the column back, because
// a row written without its stamp would look older than it is. The exception
// is the update of an upsert's conflicting row, for a model that adds or
// deprecates fields in the running release: a DoUpdates that assigns no
// transitional column leaves the row's stamp alone (the row is not
// converted), and one that assigns some of them is converted only when it
// can be (docs/compat.md, Creates and upserts); else it fails with
// ErrUnconvertibleUpdate.
//
// Models without an obj_version column are not touched: the statements GORM
// builds for them are exactly those it builds without the plugin. The column
// name obj_version is reserved for the stamp (see package model): a model
// that maps a field to it is treated as stamped.
//
// # What the plugin cannot see
//
// The plugin works on GORM's statements, so it sees nothing that bypasses
// them: db.Exec and db.Raw with SQL text, statements on db.Table("name")
// without a Model (GORM has no schema for them, so no stamp column is
// known), writes through the *sql.DB underneath, and writes by other tools.
// Such writes keep whatever obj_version they set (the column's default is 0,
// "written before tandem"), and tandem's coverage reports count them as
// stale, which is the safe side.
package compat
