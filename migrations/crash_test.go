package migrations_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// The states a runner killed at the wrong moment leaves behind, each made
// by hand, and the run after it that must converge. internal/crashtest
// finds such moments by killing the shop's tandem binary at random; these
// tests pin the ones it found.

// shopFiles are the sample shop's migration files.
func shopFiles(t *testing.T) files {
	t.Helper()
	fsys := shop.Migrations()
	f := files{}
	for _, name := range []string{
		"1.0_baseline.mysql.sql", "1.0_baseline.postgres.sql", "1.0_baseline.sqlite.sql",
		"2.0_expand01_split_name.sql", "2.0_expand02_weight_kg.sql", "2.0_contract01_drop_old_columns.sql",
	} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		f[name] = string(b)
	}
	return f
}

func shopRunner(t *testing.T, db *dbtest.DB) *migrations.Runner {
	t.Helper()
	return newRunner(t, db.Gorm, shopFiles(t), migrations.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}))
}

// On MySQL a runner killed after a DDL statement committed, but before its
// progress was recorded, leaves the migration "running" with the statement
// not counted; the statement fails when re-run. The next run counts it as
// done and journals why; a migration that failed gets no such benefit.
func TestCrashInterruptedStatementMySQL(t *testing.T) {
	for _, status := range []string{store.StatusRunning, store.StatusFailed} {
		t.Run(status, func(t *testing.T) {
			db := dbtest.New(t, dialect.MySQL)
			ctx := t.Context()
			r := shopRunner(t, db)
			if _, err := r.Expand(ctx, ver("1.0")); err != nil {
				t.Fatal(err)
			}
			// What the killed runner did: 2.0 expanding, the history row
			// saved, the first ALTER committed, and no more.
			if err := store.Transition(ctx, db.Gorm, ver("2.0"), versions.StateExpanding, "by expand"); err != nil {
				t.Fatal(err)
			}
			id := versions.MigrationID{Release: ver("2.0"), Phase: versions.PhaseExpand, Seq: 1}
			row := &store.Migration{
				ID: id.String(), Release: "2.0", ReleaseStamp: ver("2.0").Stamp(), Phase: "expand", Seq: 1,
				Kind: string(migrations.KindSQL), Checksum: "unused: no statement counted as done", Dialect: "mysql",
				StartedAt: store.Now(), Actor: store.Actor(), Status: status, StatementsTotal: 2,
			}
			if err := store.SaveMigration(ctx, db.Gorm, row); err != nil {
				t.Fatal(err)
			}
			db.Exec(t, "ALTER TABLE customers ADD COLUMN given_name VARCHAR(100)")

			_, err := r.Expand(ctx, ver("2.0"))
			if status == store.StatusFailed {
				me := asError[*migrations.MigrationError](t, err)
				wantEqual(t, "failed statement", me.Statement, 1)
				return
			}
			if err != nil {
				t.Fatalf("expand after the interrupted statement: %v", err)
			}
			wantEqual(t, "status", history(t, db.Gorm)[id.String()].Status, store.StatusApplied)
			wantEqual(t, "state of 2.0", states(t, db.Gorm)["2.0"], string(versions.StateExpanded))
			wantColumns(t, db, "customers", "email", "family_name", "given_name", "id", "name", "obj_version")
			ev := journal(t, db.Gorm, "resume")
			if len(ev) != 1 || !strings.Contains(ev[0].Detail, "2.0_expand01 statement 1 had taken effect") {
				t.Fatalf("resume journal = %+v, want the statement counted as done", ev)
			}
		})
	}
}

// coverageName is the name the contract gives its coverage enforcement on
// table (migrations' enforceName).
func coverageName(prefix, table string, rel versions.Version) string {
	sum := sha256.Sum256([]byte(table + "@" + rel.String()))
	return prefix + hex.EncodeToString(sum[:6])
}

// A contract killed while its coverage enforcement was in place (a CHECK
// constraint on PostgreSQL, triggers on MySQL, each committed on its own)
// leaves it behind. The next contract must replace it, not fail on it, and
// remove it at the end; a flip back to L(m) instead must remove it, so that
// 1.0 writers are not refused once they are let back in.
func TestCrashCoverageEnforcementLeftBehind(t *testing.T) {
	for _, d := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		for _, next := range []string{"contract", "flip back"} {
			t.Run(string(d)+"/"+next, func(t *testing.T) {
				db := dbtest.New(t, d)
				ctx := t.Context()
				r := shopRunner(t, db)
				for _, step := range []func() error{
					func() error { _, err := r.Expand(ctx, ver("2.0")); return err },
					func() error { _, err := r.Migrate(ctx, ver("2.0")); return err },
					func() error { return r.SetState(ctx, ver("2.0"), versions.StateContractReady) },
				} {
					if err := step(); err != nil {
						t.Fatal(err)
					}
				}
				stamp := ver("2.0").Stamp()
				for _, table := range []string{"customers", "parcels"} {
					if d == dialect.Postgres {
						db.Exec(t, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (obj_version >= %d) NOT VALID", table, coverageName("tandem_cov_", table, ver("2.0")), stamp))
						continue
					}
					for _, ev := range []string{"INSERT", "UPDATE"} {
						name := coverageName("tandem_cov_"+strings.ToLower(ev[:1])+"_", table, ver("2.0"))
						db.Exec(t, fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s FOR EACH ROW BEGIN IF NEW.obj_version < %d THEN "+
							"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'stale write refused'; END IF; END", name, ev, table, stamp))
					}
				}
				q := "SELECT COUNT(*) FROM pg_constraint WHERE conname LIKE 'tandem_cov_%'"
				if d == dialect.MySQL {
					q = "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
				}
				if next == "contract" {
					if _, err := r.Contract(ctx, ver("2.0")); err != nil {
						t.Fatalf("contract after a killed one: %v", err)
					}
					wantEqual(t, "state of 2.0", states(t, db.Gorm)["2.0"], string(versions.StateContracted))
					wantEqual(t, "enforcement left after the contract", db.QueryInt(t, q), int64(0))
					return
				}
				if err := r.SetState(ctx, ver("2.0"), versions.StateExpanded); err != nil {
					t.Fatalf("flip back after a killed contract: %v", err)
				}
				wantEqual(t, "state of 2.0", states(t, db.Gorm)["2.0"], string(versions.StateExpanded))
				wantEqual(t, "enforcement left after the flip back", db.QueryInt(t, q), int64(0))
				wantEqual(t, "journal entries of the removal",
					db.QueryInt(t, "SELECT COUNT(*) FROM tandem_journal WHERE action = 'flag' AND detail LIKE 'removed the coverage enforcement%'"),
					map[dialect.Name]int64{dialect.Postgres: 2, dialect.MySQL: 4}[d])
				// A 1.0 writer's stamp is accepted again.
				db.Exec(t, "INSERT INTO customers (name, email, obj_version) VALUES ('Ada Lovelace', 'ada@example.com', ?)", ver("1.0").Stamp())
				db.Exec(t, "UPDATE customers SET name = 'Augusta King', obj_version = ?", ver("1.0").Stamp())
				db.Exec(t, "INSERT INTO parcels (customer_id, weight_lb, obj_version) VALUES (1, 3, ?)", ver("1.0").Stamp())
			})
		}
	}
}

// A runner killed between a fresh install's baseline (committed) and the
// release states it implies left them unrecorded; the next expand records
// them.
func TestCrashBaselineStates(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := shopRunner(t, db)
		if _, err := r.Expand(ctx, ver("1.0")); err != nil {
			t.Fatal(err)
		}
		db.Exec(t, "DELETE FROM tandem_releases")
		if _, err := r.Expand(ctx, ver("2.0")); err != nil {
			t.Fatal(err)
		}
		wantMap(t, "release states", states(t, db.Gorm), map[string]string{"1.0": "contracted", "2.0": "expanded"})
	})
}

// Found while building the crash harness: on SQLite a converter batch of
// more than about 1,000 rows failed ("Expression tree is too large"), the
// compare-and-set UPDATE ORing one condition per row. Batches are capped.
func TestCrashHarnessFindingSQLiteBatch(t *testing.T) {
	db := dbtest.New(t, dialect.SQLite)
	ctx := t.Context()
	r := newRunner(t, db.Gorm, shopFiles(t), migrations.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}),
		migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 3000}))
	if _, err := r.Expand(ctx, ver("2.0")); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
		INSERT INTO customers (id, name, email, obj_version) SELECT i, 'Given' || i || ' Family' || i, 'c' || i, ? FROM n`, ver("1.0").Stamp())
	rep, err := r.Migrate(ctx, ver("2.0"))
	if err != nil {
		t.Fatalf("migrate with a large batch: %v", err)
	}
	for _, b := range rep.Backfill {
		if b.Table == "customers" {
			wantEqual(t, "rows converted", b.Rows, int64(1500))
		}
	}
	wantEqual(t, "given names set", db.QueryInt(t, "SELECT COUNT(*) FROM customers WHERE given_name = 'Given' || id"), int64(1500))
}

// On MySQL a DML statement of a migration file and the record of its
// progress commit together. Here the record of the second statement fails
// (a trigger refuses it), as when a runner dies between the statement and
// the record: the INSERT must be rolled back with it, so that the next run,
// which resumes at that statement, inserts the row once. Before, the row
// was committed and the resumed run failed on a duplicate key.
func TestCrashDMLStatementAndProgressCommitTogetherMySQL(t *testing.T) {
	db := dbtest.New(t, dialect.MySQL)
	ctx := t.Context()
	r := newRunner(t, db.Gorm, files{
		"1.0_expand01_codes.sql": "CREATE TABLE codes (id INT PRIMARY KEY, label VARCHAR(20) NOT NULL);\n" +
			"INSERT INTO codes (id, label) VALUES (1, 'one');\n" +
			"INSERT INTO codes (id, label) VALUES (2, 'two');\n",
	})
	if err := store.Ensure(ctx, db.Gorm); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "CREATE TRIGGER refuse_progress BEFORE UPDATE ON "+store.MigrationsTable+" FOR EACH ROW BEGIN "+
		"IF NEW.statements_done = 2 AND NEW.status = 'running' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'progress refused by the test'; END IF; END")
	_, err := r.Expand(ctx, ver("1.0"))
	wantEqual(t, "rows after the failed record", db.QueryInt(t, "SELECT COUNT(*) FROM codes"), int64(0))
	me := asError[*migrations.MigrationError](t, err)
	wantEqual(t, "failed statement", me.Statement, 2)

	db.Exec(t, "DROP TRIGGER refuse_progress")
	if _, err := r.Expand(ctx, ver("1.0")); err != nil {
		t.Fatalf("expand resumed after the failed record: %v", err)
	}
	wantEqual(t, "rows after the resumed run", db.QueryInt(t, "SELECT COUNT(*) FROM codes"), int64(2))
	wantEqual(t, "status", history(t, db.Gorm)["1.0_expand01"].Status, store.StatusApplied)
}
