package migrations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// Coverage enforcement during a contract. The gate has counted no stale
// row; from then until the contract's DDL has run, the database itself
// refuses stale writes:
//
//   - PostgreSQL: CHECK (obj_version >= L) NOT VALID on every versioned
//     table, then VALIDATE CONSTRAINT (which re-checks every row under the
//     database's own locking), then the DDL; the constraint is dropped after.
//   - MySQL/MariaDB: BEFORE INSERT and BEFORE UPDATE triggers that SIGNAL on
//     a stale stamp, then coverage is counted again, then the DDL; the
//     triggers are dropped after.
//   - SQLite: the contract runs inside the runner's exclusive transaction,
//     so no other connection can write between the gate and the DDL.
//
// A stale write in that window fails loudly in the writer instead of being
// lost by the drop.

func enforceName(prefix, table string, rel versions.Version) string {
	sum := sha256.Sum256([]byte(table + "@" + rel.String()))
	return prefix + hex.EncodeToString(sum[:6])
}

// enforceCoverage installs the enforcement on every versioned table and
// returns the function that removes it.
func (r *Runner) enforceCoverage(ctx context.Context, db *gorm.DB, rel versions.Version, tables []VersionedTable) (func() error, error) {
	var undo []func() error
	cleanup := func() error {
		var first error
		for i := len(undo) - 1; i >= 0; i-- {
			if err := undo[i](); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	exec := func(sql string) error {
		return dblock.RetryDDL(ctx, db, r.ddl, func(ctx context.Context) error { return execRaw(ctx, db, sql) })
	}
	stamp := rel.Stamp()
	for _, t := range tables {
		tq, sq := r.q(t.Table), r.q(t.Stamp)
		switch r.dialect {
		case dialect.Postgres:
			name := enforceName("tandem_cov_", t.Table, rel)
			// A contract killed while its enforcement was in place left it
			// behind (it commits on its own): replace it.
			if err := exec(fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", tq, r.q(name))); err != nil {
				return cleanup, fmt.Errorf("migrations: enforce coverage on %s: %w", t.Table, err)
			}
			if err := exec(fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s >= %d) NOT VALID", tq, r.q(name), sq, stamp)); err != nil {
				return cleanup, fmt.Errorf("migrations: enforce coverage on %s: %w", t.Table, err)
			}
			undo = append(undo, func() error {
				return exec(fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", tq, r.q(name)))
			})
			if err := exec(fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", tq, r.q(name))); err != nil {
				return cleanup, &GateRefusal{Release: rel, Facts: []GateFact{{
					Reason: fmt.Sprintf("table %s: rows stamped below %s appeared after the gate's check (VALIDATE CONSTRAINT failed: %v)", t.Table, rel, err),
					Next:   fmt.Sprintf("tandem migrate --release %s, then contract again; find the writer that still runs an older release", rel)}}}
			}
		case dialect.MySQL:
			for _, ev := range []string{"INSERT", "UPDATE"} {
				name := enforceName("tandem_cov_"+map[string]string{"INSERT": "i", "UPDATE": "u"}[ev]+"_", t.Table, rel)
				sql := fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s FOR EACH ROW BEGIN IF NEW.%s < %d THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'tandem: stale write refused: release %s is being contracted'; END IF; END",
					r.q(name), ev, tq, sq, stamp, rel)
				// A contract killed while its triggers were in place left
				// them behind: replace them.
				if err := exec("DROP TRIGGER IF EXISTS " + r.q(name)); err != nil {
					return cleanup, fmt.Errorf("migrations: enforce coverage on %s: %w", t.Table, err)
				}
				if err := exec(sql); err != nil {
					return cleanup, fmt.Errorf("migrations: enforce coverage on %s: %w", t.Table, err)
				}
				undo = append(undo, func() error { return exec("DROP TRIGGER IF EXISTS " + r.q(name)) })
			}
			n, err := CountStale(ctx, db, t, rel)
			if err != nil {
				return cleanup, err
			}
			if n > 0 {
				return cleanup, &GateRefusal{Release: rel, Facts: []GateFact{{
					Reason: fmt.Sprintf("table %s: %d row(s) stamped below %s appeared after the gate's check", t.Table, n, rel),
					Next:   fmt.Sprintf("tandem migrate --release %s, then contract again", rel)}}}
			}
		}
	}
	return cleanup, nil
}

// docsFor returns the model declarations of release rel: the model
// registry's, and those of the runner's own models for tables the registry
// lacks.
func (r *Runner) docsFor(ctx context.Context, db *gorm.DB, rel versions.Version) ([]store.SpecDoc, error) {
	docs, err := store.DocsFor(ctx, db, rel)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range docs {
		seen[d.Table] = true
	}
	for _, s := range r.models {
		if !seen[s.Table] {
			docs = append(docs, store.NewSpecDoc(s))
		}
	}
	return docs, nil
}

// archiveDeprecated copies the key and the values of the columns rel
// deprecates into the archive tables, before the contract drops them.
func (r *Runner) archiveDeprecated(ctx context.Context, db *gorm.DB, rel versions.Version) error {
	if r.noArchive {
		return store.Journal(ctx, db, "archive", rel, "skipped (--no-archive)")
	}
	docs, err := r.docsFor(ctx, db, rel)
	if err != nil {
		return err
	}
	m := db.WithContext(ctx).Migrator()
	for _, d := range docs {
		have := map[string]bool{}
		if cts, err := m.ColumnTypes(d.Table); err == nil {
			for _, ct := range cts {
				have[ct.Name()] = true
			}
		}
		var cols []string
		for _, c := range d.DeprecatedIn(rel.String()) {
			if have[c] {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 || len(d.PrimaryKey) == 0 {
			continue
		}
		if _, err := Archive(ctx, db, rel, d.Table, d.PrimaryKey, cols); err != nil {
			return fmt.Errorf("migrations: archive %s before the contract: %w", d.Table, err)
		}
	}
	return nil
}

// removeLeftoverEnforcement drops the coverage enforcement of rel that a
// contract killed while it was in place left on tables, and journals each
// one it drops. A flip back to L(m) calls it: 1.x writers, let back in
// once the refill is done, would otherwise be refused by it. It looks in
// the catalog first, so that a table without one is not locked for a DDL.
func (r *Runner) removeLeftoverEnforcement(ctx context.Context, db *gorm.DB, rel versions.Version, tables []VersionedTable) error {
	exec := func(sql string) error {
		return dblock.RetryDDL(ctx, db, r.ddl, func(ctx context.Context) error { return execRaw(ctx, db, sql) })
	}
	for _, t := range tables {
		var drops []string
		switch r.dialect {
		case dialect.Postgres:
			name := enforceName("tandem_cov_", t.Table, rel)
			var n int64
			err := db.WithContext(ctx).Raw("SELECT COUNT(*) FROM pg_constraint WHERE conrelid = to_regclass(?) AND conname = ?", r.q(t.Table), name).Scan(&n).Error
			if err != nil {
				return fmt.Errorf("migrations: look for coverage enforcement on %s: %w", t.Table, err)
			}
			if n > 0 {
				drops = append(drops, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", r.q(t.Table), r.q(name)))
			}
		case dialect.MySQL:
			for _, p := range []string{"tandem_cov_i_", "tandem_cov_u_"} {
				name := enforceName(p, t.Table, rel)
				var n int64
				err := db.WithContext(ctx).Raw("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = ?", name).Scan(&n).Error
				if err != nil {
					return fmt.Errorf("migrations: look for coverage enforcement on %s: %w", t.Table, err)
				}
				if n > 0 {
					drops = append(drops, "DROP TRIGGER IF EXISTS "+r.q(name))
				}
			}
		}
		for _, sql := range drops {
			if err := exec(sql); err != nil {
				return fmt.Errorf("migrations: remove coverage enforcement from %s: %w", t.Table, err)
			}
			if err := store.Journal(ctx, db, "flag", rel, "removed the coverage enforcement a killed contract left on "+t.Table+": "+sql); err != nil {
				return err
			}
		}
	}
	return nil
}
