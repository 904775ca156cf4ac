package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// TestCrash is the CI-sized crash-injection run: TANDEM_CRASH_TRIALS
// trials per dialect (default 30), spread over expand, migrate and
// contract, the dialects in parallel. TANDEM_CRASH_SEED fixes the seed;
// otherwise it comes from the clock and is logged, with a replay command
// for every failed trial.
func TestCrash(t *testing.T) {
	trials, err := envInt("TANDEM_CRASH_TRIALS", 30)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := envInt("TANDEM_CRASH_SEED", int(defaultSeed()))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := buildShop(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{bin: bin, trials: trials, phases: allPhases, seed: int64(seed), rows: 2000,
		batchSize: 50, batchTime: 20 * time.Millisecond, maxKills: 3, restartKill: 0.5}
	t.Logf("%d trials per dialect, seed %d", trials, seed)
	var mu sync.Mutex
	sum := newSummary()
	t.Cleanup(func() {
		var b bytes.Buffer
		sum.write(&b)
		t.Logf("crash injection, seed %d:\n%s", seed, b.String())
	})
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			dbtest.Require(t, d)
			t.Parallel()
			err := runDialect(t.Context(), cfg, d, func(r trialResult) {
				mu.Lock()
				sum.add(r)
				mu.Unlock()
				if r.failed() {
					t.Errorf("%s", strings.TrimRight(r.report(), "\n"))
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCrashCheckersSeeDamage makes sure the checks see what they must: a
// wrong value, a lost row, stale rows, a schema that differs.
func TestCrashCheckersSeeDamage(t *testing.T) {
	ctx := t.Context()
	db, err := newTrialDB(ctx, dialect.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	if err := db.reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	s := start{phase: phaseMigrate, rows: 100}
	if err := prepare(ctx, db.pool, s); err != nil {
		t.Fatal(err)
	}
	var p problems
	checkCoverage(ctx, db.pool, s, &p)
	if len(p) == 0 {
		t.Fatal("coverage check passed before the migrate")
	}
	r, err := newRunner(db.pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Migrate(ctx, shop.V2); err != nil {
		t.Fatal(err)
	}
	p = nil
	checkRows(ctx, db.pool, dialect.SQLite, s, &p)
	checkCoverage(ctx, db.pool, s, &p)
	checkHistory(ctx, db.pool, phaseMigrate, &p)
	checkStates(ctx, db.pool, phaseMigrate, &p)
	if len(p) > 0 {
		t.Fatalf("checks of a good migrate: %v", p)
	}
	schema, err := schemaOf(ctx, db.pool, dialect.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE customers SET given_name = 'Wrong' WHERE id = 7",
		"DELETE FROM parcels WHERE id = 9",
		"CREATE INDEX extra ON parcels (weight_kg)",
	} {
		if err := db.pool.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	p = nil
	checkRows(ctx, db.pool, dialect.SQLite, s, &p)
	checkSchema(ctx, db.pool, dialect.SQLite, schema, &p)
	got := strings.Join(p, "\n")
	for _, want := range []string{`row 7 is (7, "Ada7 de Lovelace7", "c7@example.com", "Wrong"`, "parcels has 99 rows, want 100", "row 9 lost", "+ index parcels.extra"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not mention %q:\n%s", want, got)
		}
	}
}
