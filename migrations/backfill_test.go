package migrations_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// personWant is what a row must hold once every row is at 2.0: what the
// converters make of the last write.
type personWant struct{ name, given, family string }

// fromName is the row a 1.0 write of name leads to.
func fromName(name string) personWant {
	g, f := splitName(name)
	return personWant{name, g, f}
}

// fromParts is the row a 2.0 write of given and family leads to.
func fromParts(given, family string) personWant {
	return personWant{joinName(given, family), given, family}
}

// ledger records every logical value the writers wrote. Writes to one row
// are serialised by the row's lock, so the last write recorded is the last
// write the database saw.
type ledger struct {
	mu    sync.Mutex
	want  map[int64]personWant
	ids   []int64
	locks sync.Map // id -> *sync.Mutex
	next  atomic.Int64
}

func newLedger(ids int64) *ledger {
	l := &ledger{want: map[int64]personWant{}}
	for id := int64(1); id <= ids; id++ {
		l.want[id] = fromName(personName(id))
		l.ids = append(l.ids, id)
	}
	l.next.Store(ids)
	return l
}

// lock takes the row's lock and returns its release.
func (l *ledger) lock(id int64) func() {
	m, _ := l.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (l *ledger) pick(rng *rand.Rand) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[rng.IntN(len(l.ids))]
}

func (l *ledger) get(id int64) personWant {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.want[id]
}

func (l *ledger) set(id int64, w personWant) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.want[id]; !ok {
		l.ids = append(l.ids, id)
	}
	l.want[id] = w
}

// write1 is one write of a 1.0 instance: a new row, a full save or an
// update of the name.
func (l *ledger) write1(g *gorm.DB, rng *rand.Rand, tag string) error {
	if rng.IntN(10) < 3 {
		id := l.next.Add(1)
		defer l.lock(id)()
		name := fmt.Sprintf("New%s Person%d", tag, id)
		if err := g.Create(&PersonV1{ID: id, Name: name}).Error; err != nil {
			return fmt.Errorf("1.0 create %d: %w", id, err)
		}
		l.set(id, fromName(name))
		return nil
	}
	id := l.pick(rng)
	defer l.lock(id)()
	name := fmt.Sprintf("Old%s Renamed%d", tag, id)
	var err error
	if rng.IntN(2) == 0 {
		err = g.Save(&PersonV1{ID: id, Name: name}).Error
	} else {
		err = g.Model(&PersonV1{ID: id}).Update("name", name).Error
	}
	if err != nil {
		return fmt.Errorf("1.0 update %d: %w", id, err)
	}
	l.set(id, fromName(name))
	return nil
}

// write2 is one write of a 2.0 instance in L(m): a new row, a full save,
// or a partial update of the given name (which the plugin completes from
// the row as it is).
func (l *ledger) write2(g *gorm.DB, rng *rand.Rand, tag string) error {
	switch n := rng.IntN(10); {
	case n < 3:
		id := l.next.Add(1)
		defer l.lock(id)()
		p := PersonV2{ID: id, GivenName: "Fresh" + tag, FamilyName: fmt.Sprintf("Two%d", id)}
		if err := g.Create(&p).Error; err != nil {
			return fmt.Errorf("2.0 create %d: %w", id, err)
		}
		l.set(id, fromParts(p.GivenName, p.FamilyName))
	case n < 6:
		id := l.pick(rng)
		defer l.lock(id)()
		p := PersonV2{ID: id, GivenName: "Saved" + tag, FamilyName: fmt.Sprintf("Whole%d", id)}
		if err := g.Save(&p).Error; err != nil {
			return fmt.Errorf("2.0 save %d: %w", id, err)
		}
		l.set(id, fromParts(p.GivenName, p.FamilyName))
	default:
		id := l.pick(rng)
		defer l.lock(id)()
		given := "Part" + tag
		if err := g.Model(&PersonV2{ID: id}).Updates(map[string]any{"given_name": given}).Error; err != nil {
			return fmt.Errorf("2.0 partial update %d: %w", id, err)
		}
		l.set(id, fromParts(given, l.get(id).family))
	}
	return nil
}

// TestBackfillWhileWritersRun backfills people while instances of 1.0 and
// 2.0 keep writing: after every batch each writer is handed writes, which
// run during the next batch, and the next batch report waits until they
// are done. In the end every row is at 2.0 and holds what the converters
// make of its last write: no write is lost.
func TestBackfillWhileWritersRun(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		const seeded = 240
		seedPeople(t, db, 1, 200, st10)
		seedPeople(t, db, 201, seeded, 0)
		g1, _ := startPlugin(t, db, rel10, &PersonV1{})
		g2, p2 := startPlugin(t, db, rel20, &PersonV2{})
		wantEqual(t, "mode of 2.0", p2.Mode(), compat.ModeDual)

		l := newLedger(seeded)
		type writer struct {
			tokens chan struct{}
			write  func(rng *rand.Rand, tag string) error
		}
		const perRound = 2
		var writers []writer
		for i := range 4 {
			w := writer{tokens: make(chan struct{}, perRound)}
			if i%2 == 0 {
				w.write = func(rng *rand.Rand, tag string) error { return l.write1(g1, rng, tag) }
			} else {
				w.write = func(rng *rand.Rand, tag string) error { return l.write2(g2, rng, tag) }
			}
			writers = append(writers, w)
		}
		var (
			pending sync.WaitGroup // the writes handed out in the last round
			done    sync.WaitGroup // the writer goroutines
			stop    = make(chan struct{})
			writes  atomic.Int64
		)
		for i, w := range writers {
			done.Add(1)
			go func() {
				defer done.Done()
				rng := rand.New(rand.NewPCG(42, uint64(i)))
				for seq := 0; ; seq++ {
					select {
					case <-stop:
						return
					case <-w.tokens:
					}
					if err := w.write(rng, fmt.Sprintf("w%ds%d", i, seq)); err != nil {
						t.Errorf("writer %d: %v", i, err)
					}
					writes.Add(1)
					pending.Done()
				}
			}()
		}
		rounds := 0
		round := func() {
			pending.Wait()
			pending.Add(len(writers) * perRound)
			for _, w := range writers {
				for range perRound {
					w.tokens <- struct{}{}
				}
			}
			rounds++
		}

		round() // writes while the migrate starts
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithBackfill(migrations.BackfillOptions{
			BatchSize: 20, TargetBatch: time.Nanosecond, // batches of 20, then 10 rows
			Progress: func(p migrations.Progress) {
				if p.Table == "people" && !p.Finished {
					round()
				}
			},
		}))
		rep, err := r.Migrate(ctx, rel20)
		pending.Wait()
		close(stop)
		done.Wait()
		if err != nil {
			t.Fatalf("migrate while writers run: %v", err)
		}
		during := backfillOf(t, rep)
		t.Logf("%s: %d writes in %d rounds during the backfill; it converted %d rows in %d batches, %d conflicts retried, %d rows left stale",
			db.Dialect, writes.Load(), rounds, during.Rows, during.Batches, during.Conflicts, during.Remaining)
		if rounds < 10 || writes.Load() != int64(rounds*len(writers)*perRound) {
			t.Fatalf("%d writes in %d rounds: the writers did not run between the batches", writes.Load(), rounds)
		}

		// The writers have stopped: a last migrate catches the rows the 1.0
		// writers made stale behind the cursor.
		rep, err = newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{})).Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("final migrate: %v", err)
		}
		wantEqual(t, "rows left stale", backfillOf(t, rep).Remaining, 0)
		wantComplete(t, r, int64(len(l.want)))
		got := readPeople(t, db.Gorm)
		wantEqual(t, "rows", len(got), len(l.want))
		for id, w := range l.want {
			wantPerson(t, got[id], w.name, w.given, w.family, st20)
		}
	})
}

// TestBackfillCrashResumes stops the backfill after a random batch, as a
// crash or Ctrl-C would, and runs it again: it resumes at the saved cursor,
// converts every stale row exactly once, and the counts add up.
func TestBackfillCrashResumes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		resetUpgrades()
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 150, st10)
		seedPeople(t, db, 151, 180, 0)
		db.Exec(t, "INSERT INTO people (id, name, given_name, family_name, obj_version) VALUES (181, 'Done Already', 'Done', 'Already', ?)", st20)
		stale := staleCount(t, db)
		wantEqual(t, "stale rows at the start", stale, 180)

		// Batches of 20 then 10 rows: 17 batches hold the 180 rows.
		k := 1 + rand.New(rand.NewPCG(2026, 5)).IntN(15)
		crashCtx, crash := context.WithCancel(ctx)
		defer crash()
		var reports []migrations.Progress
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&countedPerson{}), migrations.WithBackfill(migrations.BackfillOptions{
			BatchSize: 20, TargetBatch: time.Nanosecond,
			Progress: func(p migrations.Progress) {
				if p.Finished {
					return
				}
				reports = append(reports, p)
				if len(reports) == k {
					crash()
				}
			},
		}))
		rep, err := r.Migrate(crashCtx, rel20)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("migrate cancelled after batch %d: %v, want context.Canceled", k, err)
		}
		first := backfillOf(t, rep)
		wantEqual(t, "batch reports", len(reports), k)
		wantEqual(t, "batches of the first run", first.Batches, int64(k))
		wantEqual(t, "rows of the first run", first.Rows, reports[k-1].Done)
		if first.Rows <= 0 || first.Rows >= stale {
			t.Fatalf("the first run converted %d of %d rows", first.Rows, stale)
		}

		// The cursor was saved with the last batch: the keys up to it are
		// converted, those after it are not.
		cur, err := store.LoadBackfill(ctx, db.Gorm, "2.0", "people")
		if err != nil || cur == nil {
			t.Fatalf("backfill cursor: %+v, %v", cur, err)
		}
		wantEqual(t, "status after the crash", cur.Status, "running")
		wantEqual(t, "kind", cur.Kind, migrations.BackfillConvert)
		wantEqual(t, "rows done saved", cur.RowsDone, first.Rows)
		wantEqual(t, "batches saved", cur.Batches, int64(k))
		var key []any
		if err := json.Unmarshal([]byte(cur.Cursor), &key); err != nil || len(key) != 1 || fmt.Sprint(key[0]) != fmt.Sprint(first.Rows) {
			t.Fatalf("cursor %q, want [%d] (the stale keys are 1..%d, converted in order)", cur.Cursor, first.Rows, stale)
		}
		wantEqual(t, "stale rows up to the cursor", db.QueryInt(t, "SELECT COUNT(*) FROM people WHERE id <= ? AND obj_version < ?", first.Rows, st20), 0)
		wantEqual(t, "converted rows after the cursor", db.QueryInt(t, "SELECT COUNT(*) FROM people WHERE id > ? AND id <= 180 AND obj_version >= ?", first.Rows, st20), 0)
		wantEqual(t, "stale rows left", staleCount(t, db), stale-first.Rows)

		// The resume.
		r2 := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&countedPerson{}), migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 20}))
		rep, err = r2.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		second := backfillOf(t, rep)
		wantEqual(t, "rows converted over both runs", first.Rows+second.Rows, stale)
		wantEqual(t, "rows left", second.Remaining, 0)
		cur, err = store.LoadBackfill(ctx, db.Gorm, "2.0", "people")
		if err != nil || cur == nil {
			t.Fatalf("backfill cursor: %+v, %v", cur, err)
		}
		wantEqual(t, "status after the resume", cur.Status, "done")
		wantEqual(t, "rows done over both runs", cur.RowsDone, stale)
		wantEqual(t, "conflicts", cur.Conflicts, 0)
		wantEqual(t, "batches over both runs", cur.Batches, first.Batches+second.Batches)

		counts := upgradeCounts()
		wantEqual(t, "rows upgraded", int64(len(counts)), stale)
		for id := int64(1); id <= 180; id++ {
			if counts[id] != 1 {
				t.Errorf("row %d upgraded %d times, want once", id, counts[id])
			}
		}
		got := readPeople(t, db.Gorm)
		for id := int64(1); id <= 180; id++ {
			g, f := splitName(personName(id))
			wantPerson(t, got[id], personName(id), g, f, st20)
		}
		wantPerson(t, got[181], "Done Already", "Done", "Already", st20)
		wantComplete(t, r2, 181)
	})
}

// TestBackfillMaxRows stops each run after MaxRows rows with ErrMoreWork
// (exit code 8) until the last run finishes the table.
func TestBackfillMaxRows(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 120, st10)
		const maxRows = 50
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 20, MaxRows: maxRows}))
		left := int64(120)
		for run := 1; run <= 2; run++ {
			rep, err := r.Migrate(ctx, rel20)
			if !errors.Is(err, migrations.ErrMoreWork) {
				t.Fatalf("run %d: %v, want ErrMoreWork", run, err)
			}
			wantEqual(t, fmt.Sprintf("run %d: exit code", run), migrations.ExitCode(err), migrations.ExitMoreWork)
			wantEqual(t, "ExitMoreWork", migrations.ExitMoreWork, 8)
			b := backfillOf(t, rep)
			wantEqual(t, fmt.Sprintf("run %d: rows converted", run), b.Rows, maxRows)
			left -= b.Rows
			wantEqual(t, fmt.Sprintf("run %d: stale rows left", run), staleCount(t, db), left)
		}
		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("last run: %v (exit code %d)", err, migrations.ExitCode(err))
		}
		wantEqual(t, "exit code of the last run", migrations.ExitCode(err), migrations.ExitOK)
		wantEqual(t, "rows of the last run", backfillOf(t, rep).Rows, left)
		got := readPeople(t, db.Gorm)
		for id := int64(1); id <= 120; id++ {
			g, f := splitName(personName(id))
			wantPerson(t, got[id], personName(id), g, f, st20)
		}
		wantComplete(t, r, 120)
	})
}

// sqlBackfillFiles adds a SQL backfill of people to peopleFiles: portable
// SET expressions, and PostgreSQL's own (it has no instr).
var sqlBackfillFiles = peopleFiles.with(files{
	"2.0_migrate01_split_name.sql": "-- tandem:backfill people\n" +
		"given_name = substr(name, 1, instr(name, ' ') - 1), family_name = substr(name, instr(name, ' ') + 1);\n",
	"2.0_migrate01_split_name.postgres.sql": "-- tandem:backfill people\n" +
		"given_name = split_part(name, ' ', 1), family_name = split_part(name, ' ', 2);\n",
})

// TestBackfillSQL converts the rows with the SET list of an annotated
// migrate file, by a runner that does not have the Go model.
func TestBackfillSQL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, sqlBackfillFiles)
		seedPeople(t, db, 1, 90, st10)
		seedPeople(t, db, 91, 100, 0)
		db.Exec(t, "INSERT INTO people (id, name, given_name, family_name, obj_version) VALUES (101, 'Keep Me', 'Kept', 'AsWritten', ?)", st20)
		r := newRunner(t, db.Gorm, sqlBackfillFiles, migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 20, TargetBatch: time.Nanosecond}))
		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"2.0_migrate01"})
		wantEqual(t, "history", history(t, db.Gorm)["2.0_migrate01"].Status, store.StatusApplied)
		b := backfillOf(t, rep)
		wantEqual(t, "kind", b.Kind, migrations.BackfillSQL)
		wantEqual(t, "rows", b.Rows, 100)
		wantEqual(t, "left", b.Remaining, 0)
		if b.Batches < 10 {
			t.Errorf("%d batches, want keyset batches of at most 20 rows", b.Batches)
		}
		got := readPeople(t, db.Gorm)
		for id := int64(1); id <= 100; id++ {
			g, f := splitName(personName(id))
			wantPerson(t, got[id], personName(id), g, f, st20)
		}
		wantPerson(t, got[101], "Keep Me", "Kept", "AsWritten", st20)
		wantComplete(t, r, 101)

		// Run again: nothing is stale, nothing changes.
		before := dumpRows(t, db, "people")
		rep, err = r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "rows of a second run", backfillOf(t, rep).Rows, 0)
		wantSlice(t, "people after a second run", dumpRows(t, db, "people"), before)
	})
}

// TestBackfillRefusedWithoutConverter: a runner with neither the model's
// converters nor a SQL backfill cannot convert a table whose shape changes,
// and says which table and what to do.
func TestBackfillRefusedWithoutConverter(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 30, st10)
		before := dumpRows(t, db, "people")
		_, err := newRunner(t, db.Gorm, peopleFiles).Migrate(ctx, rel20)
		if err == nil {
			t.Fatal("a runner without converters nor SQL backfill converted people")
		}
		for _, want := range []string{"table people", "neither its model's converters nor a SQL backfill", "-- tandem:backfill people"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitError)
		wantSlice(t, "people after the refusal", dumpRows(t, db, "people"), before)
		bf, err := store.Backfills(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "backfill cursors", len(bf), 0)
	})
}

// TestFlipBackRefills writes rows in 2.0(c), flips 2.0 back to L(m), and
// checks that 1.0 binaries stay out until migrate has refilled the
// deprecated name with the downgrade converter.
func TestFlipBackRefills(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 20, st10)
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}))
		if _, err := r.Migrate(ctx, rel20); err != nil {
			t.Fatal(err)
		}
		if err := r.SetState(ctx, rel20, versions.StateContractReady); err != nil {
			t.Fatal(err)
		}

		// 2.0 in L(c): a new row, a full save and a partial update. The
		// name is not written: the rows carry the marker.
		g2, p2 := startPlugin(t, db, rel20, &PersonV2{})
		wantEqual(t, "mode of 2.0", p2.Mode(), compat.ModeContract)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(g2.Create(&PersonV2{ID: 101, GivenName: "Grace", FamilyName: "Hopper"}).Error)
		must(g2.Save(&PersonV2{ID: 1, GivenName: "Katherine", FamilyName: "Johnson"}).Error)
		must(g2.Model(&PersonV2{ID: 2}).Updates(map[string]any{"given_name": "Dorothy"}).Error)
		got := readPeople(t, db.Gorm)
		if n := got[101].Name; n != nil && *n != "" {
			t.Errorf("row written in L(c) has name %q, want none", *n)
		}
		wantEqual(t, "name of row 1 after a save in L(c)", *got[1].Name, personName(1))
		wantEqual(t, "name of row 2 after an update in L(c)", *got[2].Name, personName(2))
		for _, id := range []int64{1, 2, 101} {
			wantEqual(t, fmt.Sprintf("stamp of row %d", id), got[id].ObjVersion, mk20)
		}
		must(p2.Close())

		// Flip back: 1.0 may not start while rows lack their name.
		if err := r.SetState(ctx, rel20, versions.StateExpanded); err != nil {
			t.Fatal(err)
		}
		err := db.Open(t).Use(compat.New(rel10, compat.WithModels(&PersonV1{}), compat.WithoutListen()))
		if !errors.Is(err, compat.ErrRefillPending) {
			t.Fatalf("1.0 started before the refill: %v", err)
		}
		wantEqual(t, "table named by the guard", asError[*compat.GuardError](t, err).Table, "people")

		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("refill: %v", err)
		}
		b := backfillOf(t, rep)
		wantEqual(t, "rows refilled", b.Rows, 3)
		wantEqual(t, "rows left", b.Remaining, 0)
		got = readPeople(t, db.Gorm)
		wantPerson(t, got[101], "Grace Hopper", "Grace", "Hopper", st20)
		wantPerson(t, got[1], "Katherine Johnson", "Katherine", "Johnson", st20)
		_, f2 := splitName(personName(2))
		wantPerson(t, got[2], joinName("Dorothy", f2), "Dorothy", f2, st20)
		for id := int64(3); id <= 20; id++ {
			g, f := splitName(personName(id))
			wantPerson(t, got[id], personName(id), g, f, st20)
		}

		// Now 1.0 starts, and reads the refilled name.
		g1, _ := startPlugin(t, db, rel10, &PersonV1{})
		var p PersonV1
		must(g1.Take(&p, 101).Error)
		wantEqual(t, "name 1.0 reads", p.Name, "Grace Hopper")
	})
}

// TestBackfillRaceWithinBatch writes, from another connection, inside a
// batch of the converter backfill: between its reads of the rows, and
// between those reads and its write. A row changed meanwhile is not
// overwritten with values converted from what was read before; it is
// retried and converted from what the writer left. SQLite is left out: a
// batch there holds the database's write lock, so no one can write inside.
func TestBackfillRaceWithinBatch(t *testing.T) {
	for _, d := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			db := dbtest.New(t, d)
			ctx := t.Context()
			expandPeople(t, db, peopleFiles)
			seedPeople(t, db, 1, 40, st10)
			other := db.Open(t)
			var errs []error
			write := func(q string, args ...any) {
				// Bounded, so that a write the batch blocks fails the test
				// instead of hanging it.
				wctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				errs = append(errs, other.WithContext(wctx).Exec(q, args...).Error)
			}
			// Inside the first batch's transaction: before its second read
			// of people (the keys and compared values, then the models) and
			// before its write.
			reads := 0
			onRead := func(tx *gorm.DB, people bool) {
				if _, inBatch := tx.Statement.ConnPool.(*sql.Tx); !people || !inBatch {
					return
				}
				if reads++; reads == 2 {
					write("UPDATE people SET name = 'Between Reads', obj_version = ? WHERE id = 1", st10)
				}
			}
			var beforeWrite sync.Once
			rg := db.Open(t)
			for _, err := range []error{
				rg.Callback().Query().Before("gorm:query").Register("test:before_query", func(tx *gorm.DB) {
					onRead(tx, tx.Statement.Table == "people")
				}),
				rg.Callback().Row().Before("gorm:row").Register("test:before_row", func(tx *gorm.DB) {
					onRead(tx, strings.Contains(tx.Statement.SQL.String(), "people"))
				}),
				// After the second read (the models), the batch converts and
				// writes; its write goes to the driver without GORM.
				rg.Callback().Query().After("gorm:query").Register("test:before_write", func(tx *gorm.DB) {
					if _, inBatch := tx.Statement.ConnPool.(*sql.Tx); inBatch && tx.Statement.Table == "people" && reads == 2 {
						beforeWrite.Do(func() {
							// A change of case only: MySQL's default collations
							// compare it equal, the compare-and-set must not.
							write("UPDATE people SET name = 'GIVEN2 FAMILY2' WHERE id = ?", 2)
							write("UPDATE people SET name = 'Two Wrote', given_name = 'Two', family_name = 'Wrote', obj_version = ? WHERE id = 3", st20)
						})
					}
				}),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			r := newRunner(t, rg, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 20}))
			rep, err := r.Migrate(ctx, rel20)
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			wantEqual(t, "writes inside the batch", len(errs), 3)
			for _, err := range errs {
				if err != nil {
					t.Errorf("write inside the batch: %v", err)
				}
			}
			b := backfillOf(t, rep)
			t.Logf("%s: %d rows converted, %d conflicts", d, b.Rows, b.Conflicts)
			if b.Conflicts < 2 {
				t.Errorf("%d conflicts, want the rows written inside the batch retried", b.Conflicts)
			}
			wantEqual(t, "rows converted by the backfill", b.Rows, 39)
			wantEqual(t, "rows left", b.Remaining, 0)
			got := readPeople(t, db.Gorm)
			wantPerson(t, got[1], "Between Reads", "Between", "Reads", st20)
			wantPerson(t, got[2], "GIVEN2 FAMILY2", "GIVEN2", "FAMILY2", st20)
			wantPerson(t, got[3], "Two Wrote", "Two", "Wrote", st20)
			for id := int64(4); id <= 40; id++ {
				g, f := splitName(personName(id))
				wantPerson(t, got[id], personName(id), g, f, st20)
			}
			wantComplete(t, r, 40)
		})
	}
}

// TestBackfillMaxRowsExactlyEnough: a run whose MaxRows covers exactly the
// rows left finishes the table and reports no more work (exit code 0), so
// that a script running migrate until it exits 0 stops there.
func TestBackfillMaxRowsExactlyEnough(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 100, st10)
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 20, MaxRows: 50}))
		_, err := r.Migrate(ctx, rel20)
		wantEqual(t, "exit code of the first run", migrations.ExitCode(err), migrations.ExitMoreWork)
		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("second run, 50 rows left for MaxRows 50: %v (exit code %d)", err, migrations.ExitCode(err))
		}
		wantEqual(t, "rows of the second run", backfillOf(t, rep).Rows, 50)
		wantComplete(t, r, 100)
		cur, err := store.LoadBackfill(ctx, db.Gorm, "2.0", "people")
		if err != nil || cur == nil {
			t.Fatalf("backfill cursor: %+v, %v", cur, err)
		}
		wantEqual(t, "status", cur.Status, "done")
	})
}

// TestBackfillRedoLimit: with a redo limit the backfill converts every row
// as without one, on every dialect (MariaDB checks its redo before each
// batch; the others ignore the limit), and an out-of-range limit is
// refused before anything runs.
func TestBackfillRedoLimit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		_, err := migrations.New(db.Gorm, files{}.fsys(), migrations.WithBackfill(migrations.BackfillOptions{RedoLimit: 1.5}))
		if err == nil || !strings.Contains(err.Error(), "redo limit 1.5: want a share of InnoDB's redo from 0.2 to 0.9, e.g. 0.5, 0 (the default: 0.5 while other sessions are busy) or RedoOff") {
			t.Errorf("New with a redo limit of 1.5: %v", err)
		}
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 120, st10)
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}),
			migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 25, TargetBatch: time.Nanosecond, RedoLimit: 0.5}))
		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("migrate with a redo limit: %v", err)
		}
		res := backfillOf(t, rep)
		wantEqual(t, "rows converted", res.Rows, int64(120))
		wantEqual(t, "rows left stale", staleCount(t, db), int64(0))
		if res.ThrottledMS < 0 || (db.Dialect != dialect.MySQL && res.ThrottledMS != 0) {
			t.Errorf("throttled %d ms on %s", res.ThrottledMS, db.Dialect)
		}
	})
}

// TestBackfillDuty: with a duty of 0.1 the backfill pauses after each
// batch nine times as long as the batch took, on every dialect, reports the
// pauses, and converts every row.
func TestBackfillDuty(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 300, st10)
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}),
			migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 50, TargetBatch: time.Hour, Duty: 0.1}))
		t0 := time.Now()
		rep, err := r.Migrate(t.Context(), rel20)
		el := time.Since(t0)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		res := backfillOf(t, rep)
		wantEqual(t, "rows converted", res.Rows, int64(300))
		wantEqual(t, "rows left stale", staleCount(t, db), int64(0))
		// The pauses are nine tenths of the backfill's time, less what
		// the rounding of each to whole milliseconds takes off.
		if paused := time.Duration(res.PausedMS) * time.Millisecond; paused <= 0 || paused > el {
			t.Errorf("paused %s of a backfill that took %s, want more than nothing and less than all", paused, el)
		}
	})
}

// TestBackfillAuto: with the default options, while another session is
// busy (here one that runs statements as fast as it can), the backfill on
// MariaDB applies the redo limit and on PostgreSQL the duty, each says so,
// and every row is converted; SQLite runs it as before, without a word and
// without pauses.
func TestBackfillAuto(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		seedPeople(t, db, 1, 120, st10)
		logged, said, lines := logLines()
		// 40 rows/s: the 120 rows take 3 s, more than one window of each
		// sampling.
		r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithLogf(logged),
			migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 10, TargetBatch: time.Nanosecond, RateLimit: 40}))
		stop := db.Busy(t)
		rep, err := r.Migrate(ctx, rel20)
		stop()
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		res := backfillOf(t, rep)
		wantEqual(t, "rows converted", res.Rows, int64(120))
		wantEqual(t, "rows left stale", staleCount(t, db), int64(0))
		if on := said("redo limit auto: other sessions run"); on != (db.Dialect == dialect.MySQL) {
			t.Errorf("on %s, the log says the redo limit applies: %v; log %q", db.Dialect, on, lines())
		}
		if db.Dialect != dialect.MySQL && (res.ThrottledMS != 0 || said("redo")) {
			t.Errorf("on %s: throttled %d ms, log %q; want no word of the redo", db.Dialect, res.ThrottledMS, lines())
		}
		pg := db.Dialect == dialect.Postgres
		if on := said("duty auto: other sessions end"); on != pg || (res.PausedMS > 0) != pg {
			t.Errorf("on %s: paused %d ms after batches, the log says the duty applies: %v; log %q", db.Dialect, res.PausedMS, on, lines())
		}
	})
}

// TestBackfillAutoAlone: with the default options and no other session in
// the database, the backfill neither pauses nor waits on any dialect, even
// where it ends more transactions a second itself (60 batches) than make
// other sessions busy.
//
// The governors count the whole server's transactions, and the other
// packages' tests share the servers while go test runs packages side by
// side. A run whose log says other sessions were busy is therefore tried
// again, up to three times, in a new database; a backfill that counts its
// own transactions as other sessions' fails all three.
func TestBackfillAutoAlone(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		const attempts = 3
		for attempt := 1; ; attempt++ {
			if attempt > 1 {
				db = dbtest.New(t, db.Dialect)
			}
			expandPeople(t, db, peopleFiles)
			seedPeople(t, db, 1, 1500, st10)
			logged, said, lines := logLines()
			r := newRunner(t, db.Gorm, peopleFiles, migrations.WithModels(&PersonV2{}), migrations.WithLogf(logged),
				migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 10, TargetBatch: time.Nanosecond, RateLimit: 600}))
			rep, err := r.Migrate(t.Context(), rel20)
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			res := backfillOf(t, rep)
			wantEqual(t, "rows converted", res.Rows, int64(1500))
			wantEqual(t, "rows left stale", staleCount(t, db), int64(0))
			if res.Batches < 150 {
				t.Errorf("%d batches, want at least 150", res.Batches)
			}
			if res.PausedMS == 0 && res.ThrottledMS == 0 && !said("duty") && !said("redo") {
				return
			}
			if attempt == attempts {
				t.Fatalf("on %s alone, in each of %d runs: paused or throttled; last run paused %d ms, throttled %d ms, log %q; want neither",
					db.Dialect, attempts, res.PausedMS, res.ThrottledMS, lines())
			}
			t.Logf("run %d on %s: paused %d ms, throttled %d ms, log %q; other tests may share the server, trying again", attempt, db.Dialect, res.PausedMS, res.ThrottledMS, lines())
		}
	})
}

// logLines returns a logf for a Runner, a func that says whether a line
// logged so far contains s, and one that returns the lines.
func logLines() (logf func(string, ...any), said func(s string) bool, lines func() []string) {
	var mu sync.Mutex
	var logged []string
	logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(f, a...))
	}
	said = func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, s) })
	}
	lines = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(logged)
	}
	return logf, said, lines
}
