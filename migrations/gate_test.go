package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// readyPeople brings people to where the contract of 2.0 is allowed: 2.0
// expanded and migrated (every row at 2.0, one with a quote and non-ASCII
// letters, one without a name), the flag set, no instance running. It
// returns a runner with the 2.0 model.
func readyPeople(t *testing.T, db *dbtest.DB, opts ...migrations.Option) *migrations.Runner {
	t.Helper()
	return readyPeopleFiles(t, db, peopleFiles, opts...)
}

// readyPeopleFiles is readyPeople with the migration files f.
func readyPeopleFiles(t *testing.T, db *dbtest.DB, f files, opts ...migrations.Option) *migrations.Runner {
	t.Helper()
	ctx := t.Context()
	expandPeople(t, db, f)
	seedPeople(t, db, 1, 30, st10)
	db.Exec(t, "INSERT INTO people (id, name, obj_version) VALUES (31, ?, ?), (32, NULL, ?)", "Zoë O'Brien", st10, st10)
	r := newRunner(t, db.Gorm, f, append([]migrations.Option{migrations.WithModels(&PersonV2{})}, opts...)...)
	if _, err := r.Migrate(ctx, rel20); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := r.SetState(ctx, rel20, versions.StateContractReady); err != nil {
		t.Fatalf("flag: %v", err)
	}
	wantEqual(t, "stale rows when ready", staleCount(t, db), 0)
	return r
}

// saveInstance registers an instance of rel that has seen state seen and
// whose heartbeat expires at expires.
func saveInstance(t *testing.T, db *dbtest.DB, id, rel string, seen versions.State, started, expires time.Time) {
	t.Helper()
	in := &store.Instance{ID: id, Host: "test-host", PID: 4242, Release: rel, ReleaseStamp: ver(rel).Stamp(),
		StartedAt: started, HeartbeatAt: store.Now(), ExpiresAt: expires, SeenState: string(seen), Mode: seen.Mode()}
	if err := store.SaveInstance(t.Context(), db.Gorm, in); err != nil {
		t.Fatal(err)
	}
}

func forgetInstance(t *testing.T, db *dbtest.DB, id string) {
	t.Helper()
	if ok, err := store.DeleteInstance(context.Background(), db.Gorm, id); err != nil || !ok { // also from a cleanup
		t.Fatalf("forget instance %s: %v, %v", id, ok, err)
	}
}

// gateBlocker is one fact that forbids the contract of 2.0: how to bring
// it about (files added to the source, runner options, a change of the
// database) and undo it, and what the refusal must say.
type gateBlocker struct {
	name   string
	extra  files
	opts   []migrations.Option
	set    func(t *testing.T)
	unset  func(t *testing.T)
	reason string // the fact's reason contains it
	next   string // its hint contains it
	check  func(t *testing.T, err error)
}

func gateBlockers(db *dbtest.DB, r *migrations.Runner) map[string]gateBlocker {
	now := store.Now()
	flag := func(to versions.State) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if err := r.SetState(context.Background(), rel20, to); err != nil { // also from a cleanup
				t.Fatal(err)
			}
		}
	}
	stale := func(stamp int64) func(t *testing.T) {
		return func(t *testing.T) { db.Exec(t, "UPDATE people SET obj_version = ? WHERE id IN (3, 4)", stamp) }
	}
	bs := []gateBlocker{
		{
			name:   "expand pending",
			extra:  files{"2.0_expand02_nickname.sql": "ALTER TABLE people ADD COLUMN nickname VARCHAR(50);\n"},
			reason: "expand pending: 2.0_expand02", next: "tandem expand --release 2.0",
			check: func(t *testing.T, err error) {
				oe := asError[*migrations.OrderError](t, err)
				wantEqual(t, "pending phase", oe.Need, versions.PhaseExpand)
				wantEqual(t, "its code", oe.Code, migrations.ExitExpandPending)
			},
		},
		{
			name:   "migrate pending",
			extra:  files{"2.0_migrate01_touch.sql": "UPDATE people SET name = name WHERE id = 0;\n"},
			reason: "migrate pending: 2.0_migrate01", next: "tandem migrate --release 2.0",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, migrations.ErrOutOfOrder) {
					t.Errorf("%v does not match ErrOutOfOrder", err)
				}
			},
		},
		{
			name: "flag not set", set: flag(versions.StateExpanded), unset: flag(versions.StateContractReady),
			reason: "release 2.0 is expanded: the ready-for-contract flag is not set", next: "tandem flag set --release 2.0 contract-ready",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, migrations.ErrFlagNotSet) {
					t.Errorf("%v does not match ErrFlagNotSet", err)
				}
				wantEqual(t, "flag error state", asError[*migrations.FlagError](t, err).State, versions.StateExpanded)
			},
		},
		{
			name: "soak", opts: []migrations.Option{migrations.WithSoak(time.Hour)},
			reason: "the soak is 1h0m0s", next: "or lower --soak",
		},
		{
			name: "older instance",
			set: func(t *testing.T) {
				saveInstance(t, db, "old-1.0", "1.0", versions.StateContracted, now, now.Add(time.Hour))
			},
			unset:  func(t *testing.T) { forgetInstance(t, db, "old-1.0") },
			reason: "instance old-1.0 (pid 4242 on test-host) runs release 1.0", next: "tandem instances forget old-1.0",
		},
		{
			name: "unacknowledged instance",
			set: func(t *testing.T) {
				saveInstance(t, db, "new-2.0", "2.0", versions.StateExpanded, now.Add(time.Second), now.Add(time.Hour))
			},
			unset:  func(t *testing.T) { forgetInstance(t, db, "new-2.0") },
			reason: "instance new-2.0 (pid 4242 on test-host) has not acknowledged 2.0(c) yet (it last saw expanded)", next: "wait for its next heartbeat",
		},
		{
			name: "stale rows", set: stale(st10), unset: stale(st20),
			reason: "table people has 2 row(s) stamped below 2.0", next: "tandem migrate --release 2.0",
		},
	}
	out := map[string]gateBlocker{}
	for _, b := range bs {
		out[b.name] = b
	}
	return out
}

// TestGateRefusals brings about each fact that forbids the contract alone,
// then all of them together, and checks that the contract is refused with
// exactly those facts, each with a hint, exit code 7, and nothing changed.
func TestGateRefusals(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := readyPeople(t, db)
		now := store.Now()
		// Instances whose heartbeat expired never block.
		saveInstance(t, db, "dead-1.0", "1.0", versions.StateContracted, now.Add(-time.Hour), now.Add(-time.Minute))
		saveInstance(t, db, "dead-2.0", "2.0", versions.StateExpanded, now.Add(-time.Hour), now.Add(-time.Minute))
		blockers := gateBlockers(db, r)

		refuse := func(t *testing.T, bs []gateBlocker) {
			t.Helper()
			var extra files
			var opts []migrations.Option
			for _, b := range bs {
				if b.set != nil {
					b.set(t)
				}
				if b.unset != nil {
					t.Cleanup(func() { b.unset(t) }) // in reverse order, even after a failure
				}
				extra = extra.with(b.extra)
				opts = append(opts, b.opts...)
			}
			before := snapshot(t, db)
			rr := newRunner(t, db.Gorm, peopleFiles.with(extra), append([]migrations.Option{migrations.WithModels(&PersonV2{})}, opts...)...)
			rep, err := rr.Contract(ctx, rel20)
			ref := asError[*migrations.GateRefusal](t, err)
			if !errors.Is(err, migrations.ErrGateRefused) {
				t.Errorf("%v does not match ErrGateRefused", err)
			}
			wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
			wantEqual(t, "ExitBlocked", migrations.ExitBlocked, 7)
			wantEqual(t, "refused release", ref.Release, rel20)
			if rep != nil && len(rep.Applied) > 0 {
				t.Errorf("a refused contract applied %v", rep.Applied)
			}
			var facts []string
			for _, f := range ref.Facts {
				facts = append(facts, f.Reason+" | next: "+f.Next)
				if strings.TrimSpace(f.Next) == "" {
					t.Errorf("fact %q has no hint", f.Reason)
				}
			}
			if len(ref.Facts) != len(bs) {
				t.Errorf("%d fact(s), want %d:\n  %s", len(ref.Facts), len(bs), strings.Join(facts, "\n  "))
			}
			for _, b := range bs {
				n := 0
				for _, f := range ref.Facts {
					if strings.Contains(f.Reason, b.reason) {
						n++
						if !strings.Contains(f.Next, b.next) {
							t.Errorf("%s: hint %q, want it to say %q", b.name, f.Next, b.next)
						}
					}
				}
				if n != 1 {
					t.Errorf("%s: %d fact(s) say %q, want 1; facts:\n  %s", b.name, n, b.reason, strings.Join(facts, "\n  "))
				}
				if !strings.Contains(err.Error(), b.reason) {
					t.Errorf("%s: the error message does not say %q", b.name, b.reason)
				}
				if b.check != nil {
					b.check(t, err)
				}
			}
			if after := snapshot(t, db); after != before {
				t.Errorf("a refused contract changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		}

		order := []string{"expand pending", "migrate pending", "flag not set", "soak", "older instance", "unacknowledged instance", "stale rows"}
		for _, name := range order {
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { refuse(t, []gateBlocker{blockers[name]}) })
		}
		// Together: the soak counts from the flag, so it is a fact only
		// while the flag is set, and the flag not set one only while not.
		for _, without := range []string{"flag not set", "soak"} {
			t.Run("all_but_"+strings.ReplaceAll(without, " ", "_"), func(t *testing.T) {
				var bs []gateBlocker
				for _, name := range order {
					if name != without {
						bs = append(bs, blockers[name])
					}
				}
				refuse(t, bs)
			})
		}

		// Every blocker undone: the contract runs.
		rep, err := r.Contract(ctx, rel20)
		if err != nil {
			t.Fatalf("contract once nothing blocks: %v", err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"2.0_contract01"})
		wantColumns(t, db, "people", "id", "given_name", "family_name", "obj_version")
		wantEqual(t, "state", states(t, db.Gorm)["2.0"], "contracted")
	})
}

// TestContractArchivesDroppedValues: the contract that drops name first
// copies every key and name into the release's archive table.
func TestContractArchivesDroppedValues(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := readyPeople(t, db)
		before := archiveRows(t, db.Gorm, db.Dialect, "people", "id", "name")
		wantEqual(t, "rows before the contract", len(before), 32)
		rep, err := r.Contract(ctx, rel20)
		if err != nil {
			t.Fatalf("contract: %v", err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"2.0_contract01"})
		wantColumns(t, db, "people", "id", "given_name", "family_name", "obj_version")

		name := migrations.ArchiveTable(rel20, "people")
		wantEqual(t, "archive name", name, "tandem_archive_2_0_people")
		wantColumns(t, db, name, "id", "name")
		wantSlice(t, "archived rows", archiveRows(t, db.Gorm, db.Dialect, name, "id", "name"), before)
		infos, err := migrations.Archives(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 {
			t.Fatalf("archives = %+v, want one", infos)
		}
		a := infos[0]
		wantEqual(t, "archive table", a.Table, name)
		wantEqual(t, "source", a.Source, "people")
		wantEqual(t, "release", a.Release, "2.0")
		wantSlice(t, "key", a.PrimaryKey, []string{"id"})
		wantSlice(t, "columns", a.Columns, []string{"name"})
		wantEqual(t, "rows", a.Rows, int64(len(before)))
		if a.ArchivedAt.IsZero() {
			t.Errorf("archive without a date")
		}
	})
}

// TestContractWithoutArchive: WithoutArchive drops the column without an
// archive, and the journal says so.
func TestContractWithoutArchive(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		readyPeople(t, db)
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithoutArchive())
		if _, err := r.Contract(ctx, rel20); err != nil {
			t.Fatalf("contract: %v", err)
		}
		wantColumns(t, db, "people", "id", "given_name", "family_name", "obj_version")
		if hasTable(t, db, migrations.ArchiveTable(rel20, "people")) {
			t.Errorf("an archive was made despite WithoutArchive")
		}
		infos, err := migrations.Archives(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "archives", len(infos), 0)
		ev := journal(t, db.Gorm, "archive")
		if len(ev) != 1 || !strings.Contains(ev[0].Detail, "skipped") || ev[0].Release != "2.0" {
			t.Errorf("archive journal = %+v, want one event saying it was skipped", ev)
		}
	})
}

// enforcement counts the coverage constraints (PostgreSQL) or triggers
// (MySQL) a contract installs.
func enforcement(t *testing.T, db *dbtest.DB) int64 {
	t.Helper()
	if db.Dialect == dialect.Postgres {
		return db.QueryInt(t, "SELECT COUNT(*) FROM pg_constraint WHERE conname LIKE 'tandem_cov_%' AND conrelid = 'people'::regclass")
	}
	return db.QueryInt(t, "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name LIKE 'tandem_cov_%'")
}

// wantStaleWriteRefused fails the test unless err is the database refusing
// a stale write: PostgreSQL's check violation, MySQL's SIGNAL.
func wantStaleWriteRefused(t *testing.T, d dialect.Name, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: a stale write went through while coverage was enforced", what)
		return
	}
	switch d {
	case dialect.Postgres:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23514" || !strings.HasPrefix(pe.ConstraintName, "tandem_cov_") {
			t.Errorf("%s: %v, want a violation (23514) of the tandem_cov_ check constraint", what, err)
		}
	case dialect.MySQL:
		var me *mysql.MySQLError
		if !errors.As(err, &me) || string(me.SQLState[:]) != "45000" || !strings.Contains(me.Message, "stale write refused") {
			t.Errorf("%s: %v, want the trigger's SIGNAL 45000", what, err)
		}
	}
}

// TestContractRaceStaleWrite acts from another connection at precise
// stages of a contract. Once coverage is enforced a stale write fails in
// the writer and the contract completes; a stale row written after the
// gate's count and before the enforcement makes the contract refuse,
// dropping nothing. PostgreSQL enforces with CHECK NOT VALID + VALIDATE,
// MySQL with triggers; SQLite's contract holds the database's write lock
// from the gate to the DDL, so no other connection can write meanwhile.
func TestContractRaceStaleWrite(t *testing.T) {
	for _, d := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			t.Run("after_enforcement", func(t *testing.T) {
				db := dbtest.New(t, d)
				ctx := t.Context()
				readyPeople(t, db)
				other := db.Open(t)
				var stale []error
				var current error
				var enforced int64
				ran := false
				r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithObserver(func(stage string) {
					if stage != "coverage enforced" {
						return
					}
					ran = true
					// Bounded, so that a write blocked by the contract fails
					// the test instead of hanging it.
					wctx, cancel := context.WithTimeout(ctx, time.Minute)
					defer cancel()
					enforced = enforcement(t, db)
					stale = append(stale,
						other.WithContext(wctx).Exec("UPDATE people SET obj_version = ? WHERE id = 1", st10).Error,
						other.WithContext(wctx).Exec("INSERT INTO people (id, name, obj_version) VALUES (1000, 'Late Writer', ?)", st10).Error)
					current = other.WithContext(wctx).Exec("UPDATE people SET given_name = 'Current', obj_version = ? WHERE id = 2", st20).Error
				}))
				if _, err := r.Contract(ctx, rel20); err != nil {
					t.Fatalf("contract: %v", err)
				}
				if !ran {
					t.Fatal("the observer never saw coverage enforced")
				}
				if enforced == 0 {
					t.Errorf("nothing enforced coverage during the contract")
				}
				for i, err := range stale {
					wantStaleWriteRefused(t, d, fmt.Sprintf("stale write %d", i+1), err)
				}
				if current != nil {
					t.Errorf("a 2.0 write during the contract: %v", current)
				}
				wantColumns(t, db, "people", "id", "given_name", "family_name", "obj_version")
				wantEqual(t, "stale rows", staleCount(t, db), 0)
				wantEqual(t, "rows", db.QueryInt(t, "SELECT COUNT(*) FROM people"), 32)
				wantEqual(t, "the 2.0 write", db.QueryInt(t, "SELECT COUNT(*) FROM people WHERE id = 2 AND given_name = 'Current'"), 1)
				wantEqual(t, "enforcement left", enforcement(t, db), 0)
				wantEqual(t, "state", states(t, db.Gorm)["2.0"], "contracted")
			})
			t.Run("before_enforcement", func(t *testing.T) {
				db := dbtest.New(t, d)
				ctx := t.Context()
				readyPeople(t, db)
				other := db.Open(t)
				var wrote error
				r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithObserver(func(stage string) {
					if stage == "gate passed" {
						wctx, cancel := context.WithTimeout(ctx, time.Minute)
						defer cancel()
						wrote = other.WithContext(wctx).Exec("UPDATE people SET obj_version = ? WHERE id = 1", st10).Error
					}
				}))
				_, err := r.Contract(ctx, rel20)
				if wrote != nil {
					t.Fatalf("stale write before the enforcement: %v", wrote)
				}
				ref := asError[*migrations.GateRefusal](t, err)
				wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
				if len(ref.Facts) != 1 || !strings.Contains(ref.Facts[0].Reason, "table people") || ref.Facts[0].Next == "" {
					t.Errorf("facts = %+v, want one about table people with a hint", ref.Facts)
				}
				wantColumns(t, db, "people", "id", "name", "given_name", "family_name", "obj_version")
				wantEqual(t, "stale rows", staleCount(t, db), 1)
				wantEqual(t, "enforcement left", enforcement(t, db), 0)
				wantEqual(t, "state", states(t, db.Gorm)["2.0"], "contract-ready")
				if hasTable(t, db, migrations.ArchiveTable(rel20, "people")) {
					t.Errorf("an archive was made by a refused contract")
				}
				if h := history(t, db.Gorm)["2.0_contract01"]; h.Status == store.StatusApplied {
					t.Errorf("the contract migration ran: %+v", h)
				}
			})
		})
	}
}

// TestFlipBackRefusedAfterNewerExpand: once a newer release is expanded,
// 2.0 cannot be flipped back to migrating: the newer release's instances do
// not write 2.0's deprecated columns, and no refill covers their rows, so
// 1.0 could not safely run again. The refusal is a gate refusal (exit code
// 7) naming the newer release, and 2.0 stays contract-ready. So is it
// while the newer release's expand is under way (it would be completed
// later); a newer release still pending does not block it.
func TestFlipBackRefusedAfterNewerExpand(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := readyPeople(t, db)
		rel30 := versions.MustParse("3.0")
		if err := store.ForceState(ctx, db.Gorm, rel30, versions.StateExpanded, "test setup"); err != nil {
			t.Fatal(err)
		}
		err := r.SetState(ctx, rel20, versions.StateExpanded)
		var refusal *migrations.FlipBackRefusal
		if !errors.Is(err, migrations.ErrGateRefused) || !errors.As(err, &refusal) || len(refusal.Newer) != 1 || refusal.Newer[0] != rel30 {
			t.Fatalf("flip back with 3.0 expanded: %v", err)
		}
		wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
		if st, err := store.State(ctx, db.Gorm, rel20); err != nil || st != versions.StateContractReady {
			t.Errorf("2.0 after the refusal: %s, %v", st, err)
		}

		if err := store.ForceState(ctx, db.Gorm, rel30, versions.StateExpanding, "test setup"); err != nil {
			t.Fatal(err)
		}
		if err := r.SetState(ctx, rel20, versions.StateExpanded); !errors.As(err, &refusal) {
			t.Fatalf("flip back with 3.0 expanding: %v", err)
		}
		if err := store.ForceState(ctx, db.Gorm, rel30, versions.StatePending, "test setup"); err != nil {
			t.Fatal(err)
		}
		if err := r.SetState(ctx, rel20, versions.StateExpanded); err != nil {
			t.Fatalf("flip back with 3.0 pending: %v", err)
		}
		if st, err := store.State(ctx, db.Gorm, rel20); err != nil || st != versions.StateExpanded {
			t.Errorf("2.0 after the flip back: %s, %v", st, err)
		}
	})
}

// TestExpandRefusedTwoReleasesAhead: while a 1.0 instance is live, the
// expand of 3.0 is refused (3.0's instances would not write the name 2.0
// deprecates, which 1.0 reads), with exit code 7, the instance named, and
// nothing changed: not 3.0, and not 2.0 either when one run would expand
// both. The expand of 2.0 itself is allowed, and 3.0's once the instance
// has stopped.
func TestExpandRefusedTwoReleasesAhead(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		rel30 := versions.MustParse("3.0")
		f := peopleFiles.with(files{"3.0_expand01_add_note.sql": "ALTER TABLE people ADD COLUMN note VARCHAR(100);\n"})
		r := newRunner(t, db.Gorm, f)
		if _, err := r.Expand(ctx, rel10); err != nil {
			t.Fatal(err)
		}
		saveInstance(t, db, "web-1", "1.0", versions.StateContracted, store.Now(), store.Now().Add(time.Hour))
		before := snapshot(t, db)

		_, err := r.Expand(ctx, rel30)
		ref := asError[*migrations.ExpandRefusal](t, err)
		if ref.Release != rel30 || ref.Previous != rel20 || len(ref.Instances) != 1 || ref.Instances[0].ID != "web-1" {
			t.Errorf("refusal: %+v", ref)
		}
		wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
		if !strings.Contains(err.Error(), "instance web-1 (pid 4242 on test-host) runs release 1.0") || !strings.Contains(err.Error(), "hint: roll out 2.0 everywhere first") {
			t.Errorf("message: %v", err)
		}
		wantEqual(t, "database after the refusal", snapshot(t, db), before)

		if _, err := r.Expand(ctx, rel20); err != nil {
			t.Fatalf("expand of 2.0 beside 1.0: %v", err)
		}
		if _, err := r.Expand(ctx, rel30); !errors.Is(err, migrations.ErrGateRefused) {
			t.Fatalf("expand of 3.0 with 2.0 expanded and 1.0 live: %v", err)
		}
		forgetInstance(t, db, "web-1")
		if _, err := r.Expand(ctx, rel30); err != nil {
			t.Fatalf("expand of 3.0 once 1.0 stopped: %v", err)
		}
		wantMap(t, "states", states(t, db.Gorm), map[string]string{"1.0": "contracted", "2.0": "expanded", "3.0": "expanded"})
	})
}

// TestExpandRefusedWhenOldInstanceStartsDuringIt: a 1.0 instance that
// registers while 3.0's expand migrations run (it passed the start-up
// guard before 3.0 was expanding) stops 3.0 from becoming expanded: the
// refusal says the migrations ran, 3.0 stays expanding, and a later
// expand, once the instance is gone, completes it.
func TestExpandRefusedWhenOldInstanceStartsDuringIt(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		rel30 := versions.MustParse("3.0")
		r := newRunner(t, db.Gorm, peopleFiles)
		if _, err := r.Expand(ctx, rel20); err != nil {
			t.Fatal(err)
		}
		starts := migrations.GoMigration{ID: "3.0_expand01", Revision: "1", Func: func(ctx context.Context, g *gorm.DB) error {
			now := store.Now()
			return store.SaveInstance(ctx, g, &store.Instance{ID: "web-late", Host: "test-host", PID: 4242, Release: "1.0", ReleaseStamp: rel10.Stamp(),
				StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Hour), SeenState: "contracted", Mode: "L(c)"})
		}}
		r = newRunner(t, db.Gorm, peopleFiles, migrations.WithGoMigrations(starts))
		_, err := r.Expand(ctx, rel30)
		ref := asError[*migrations.ExpandRefusal](t, err)
		if !ref.Applied || len(ref.Instances) != 1 || ref.Instances[0].ID != "web-late" || !strings.Contains(err.Error(), "it stays expanding") {
			t.Errorf("refusal: %+v (%v)", ref, err)
		}
		wantEqual(t, "3.0 after the refusal", states(t, db.Gorm)["3.0"], "expanding")
		forgetInstance(t, db, "web-late")
		if _, err := r.Expand(ctx, rel30); err != nil {
			t.Fatalf("expand once the instance is gone: %v", err)
		}
		wantEqual(t, "3.0 at the end", states(t, db.Gorm)["3.0"], "expanded")
	})
}
