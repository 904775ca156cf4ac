package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

func TestCoverageUsage(t *testing.T) {
	tests := []struct {
		args []string
		text string
	}{
		{[]string{"coverage", "--dsn", "sqlite::memory:"}, "--release is required"},
		{[]string{"coverage", "--dsn", "sqlite::memory:", "--release", "2.x"}, `"2.x"`},
		{[]string{"coverage", "--dsn", "sqlite::memory:", "--release", "2.0", "--fail-under", "101"}, "want a percent from 0 to 100"},
		{[]string{"coverage", "--dsn", "sqlite::memory:", "--release", "2.0", "--fail-under", "-1"}, "want a percent from 0 to 100"},
		{[]string{"coverage", "--dsn", "sqlite::memory:", "--release", "2.0", "--fail-under", "NaN"}, "want a percent from 0 to 100"},
		{[]string{"coverage", "--dsn", "sqlite::memory:", "--release", "2.0", "--stale-keys", "-2"}, "want 0 or more"},
		{[]string{"coverage", "--dsn", "sqlite::memory:", "--release", "2.0", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		r := run(t, tt.args...)
		if r.code != 2 || !strings.Contains(r.err, tt.text) {
			t.Errorf("tandem %v = %d\nstdout: %s\nstderr: %s\nwant 2 and %q", tt.args, r.code, r.out, r.err, tt.text)
		}
	}
	h := run(t, "help", "coverage")
	if h.code != 0 || !strings.Contains(h.out, "Example:\n  tandem coverage") || !strings.Contains(h.out, "-fail-under") {
		t.Errorf("help coverage: %+v", h)
	}
}

// TestCoverageExitCodes: exit 4 while a table is below the target, 0 once
// it holds, 1 for a release nobody knows; --json carries the numbers.
func TestCoverageExitCodes(t *testing.T) {
	dir := t.TempDir() // no migration files: releases come from the database
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		db.Exec(t, "CREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(20), obj_version BIGINT NOT NULL DEFAULT 0)")
		db.Exec(t, "CREATE INDEX idx_items_obj_version ON items (obj_version)")
		db.Exec(t, "CREATE TABLE notes (id INTEGER PRIMARY KEY, obj_version BIGINT NOT NULL DEFAULT 0)")
		v1, v2 := versions.MustParse("1.0"), versions.MustParse("2.0")
		db.Exec(t, "INSERT INTO items (id, label, obj_version) VALUES (1, 'a', ?), (2, 'b', 0), (3, 'c', ?), (4, 'd', ?)", v1.Stamp(), v2.Stamp(), v2.MarkedStamp())
		db.Exec(t, "INSERT INTO notes (id, obj_version) VALUES (1, ?)", v2.Stamp())
		if err := store.Ensure(ctx, db.Gorm); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"items", "notes"} {
			doc := store.SpecDoc{Model: table, Table: table, PrimaryKey: []string{"id"}, Stamp: "obj_version"}
			if err := store.RegisterModel(ctx, db.Gorm, &store.ModelSpec{Release: "2.0", Table: table, ReleaseStamp: v2.Stamp(),
				Model: table, Spec: doc.JSON(), RegisteredAt: store.Now(), Instance: "cli-test"}); err != nil {
				t.Fatal(err)
			}
		}
		c := func(want int, args ...string) result {
			t.Helper()
			r := run(t, append([]string{"coverage", "--dsn", db.DSN, "--dir", dir}, args...)...)
			if r.code != want {
				t.Fatalf("tandem coverage %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}

		r := c(4, "--release", "2.0")
		for _, s := range []string{"items", "50.00%", "before tandem", "2; 1", "notes", "100.00%", "below 100%: items (50.00%)", "next: tandem migrate --release 2.0"} {
			if !strings.Contains(r.out, s) {
				t.Errorf("coverage output lacks %q:\n%s", s, r.out)
			}
		}
		c(0, "--release", "2.0", "--fail-under", "50")
		c(4, "--release", "2.0", "--fail-under", "50.01")
		c(1, "--release", "1.0") // known neither to the database nor to the files
		if err := store.ForceState(ctx, db.Gorm, v1, versions.StateContracted, "test"); err != nil {
			t.Fatal(err)
		}
		c(0, "--release", "1.0", "--fail-under", "75") // the row from before tandem is the only one below 1.0
		c(4, "--release", "1.0")
		c(1, "--release", "9.9")

		r = c(4, "--release", "2.0", "--json", "--histogram")
		var got struct {
			Release  string `json:"release"`
			Rows     int64  `json:"rows"`
			Stale    int64  `json:"stale"`
			Complete bool   `json:"complete"`
			Target   bool   `json:"target_met"`
			Tables   []struct {
				Table     string   `json:"table"`
				Rows      int64    `json:"rows"`
				Stale     int64    `json:"stale"`
				Percent   float64  `json:"percent"`
				Oldest    string   `json:"oldest"`
				StaleKeys []string `json:"stale_keys"`
				Histogram []struct {
					Version string `json:"version"`
					Marked  bool   `json:"marked"`
					Rows    int64  `json:"rows"`
				} `json:"histogram"`
			} `json:"tables"`
		}
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatalf("coverage --json: %v\n%s", err, r.out)
		}
		if got.Release != "2.0" || got.Rows != 5 || got.Stale != 2 || got.Complete || got.Target || len(got.Tables) != 2 {
			t.Fatalf("coverage --json = %+v", got)
		}
		it := got.Tables[0]
		if it.Table != "items" || it.Rows != 4 || it.Stale != 2 || it.Percent != 50 || it.Oldest != "before tandem" ||
			strings.Join(it.StaleKeys, " ") != "2 1" || len(it.Histogram) != 4 ||
			it.Histogram[0].Version != "before tandem" || it.Histogram[3].Version != "2.0" || !it.Histogram[3].Marked || it.Histogram[2].Marked {
			t.Errorf("items in --json = %+v", it)
		}

		db.Exec(t, "UPDATE items SET obj_version = ? WHERE obj_version < ?", v2.Stamp(), v2.Stamp())
		r = c(0, "--release", "2.0")
		if !strings.Contains(r.out, "complete: every row of every versioned table is at 2.0 or later") {
			t.Errorf("complete coverage output:\n%s", r.out)
		}
		r = c(0, "--release", "2.0", "--estimate", "--json")
		if !strings.Contains(r.out, `"complete": true`) || !strings.Contains(r.out, `"target_met": true`) {
			t.Errorf("coverage --estimate --json:\n%s", r.out)
		}
	})
}
