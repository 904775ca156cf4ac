package cli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// flagCustomerV1 is 1.0's model of the customers table of flagDir.
type flagCustomerV1 struct {
	ID   uint `gorm:"primaryKey"`
	Name string
	model.Stamp
}

func (flagCustomerV1) TableName() string { return "customers" }

// flagCustomerV2 is 2.0's: given_name added, name deprecated.
type flagCustomerV2 struct {
	ID        uint   `gorm:"primaryKey"`
	Name      string `tandem:"deprecated=2.0"`
	GivenName string `gorm:"size:100" tandem:"added=2.0"`
	model.Stamp
}

func (flagCustomerV2) TableName() string { return "customers" }

func (c *flagCustomerV2) TandemUpgrade(versions.Version) error { c.GivenName = c.Name; return nil }
func (c *flagCustomerV2) TandemDowngrade() error               { c.Name = c.GivenName; return nil }

func flagHasColumn(cols []string, c string) bool {
	for _, x := range cols {
		if x == c {
			return true
		}
	}
	return false
}

func flagDir(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"1.0_baseline.sql":                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(200), obj_version BIGINT NOT NULL DEFAULT 0);\n",
		"2.0_expand01_add_given_name.sql": "ALTER TABLE customers ADD given_name VARCHAR(100);\n",
		"2.0_contract01_drop_name.sql":    "ALTER TABLE customers DROP COLUMN name;\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func flagCLI(t *testing.T, db *dbtest.DB, dir string) func(want int, args ...string) result {
	return func(want int, args ...string) result {
		t.Helper()
		r := run(t, append(args, "--dsn", db.DSN, "--dir", dir)...)
		if want >= 0 && r.code != want {
			t.Fatalf("tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
		}
		return r
	}
}

// TestFlagSetRacesRegistration: a 1.0 instance passes the start-up
// guard (2.0 only expanded), then, before its row is in tandem_instances,
// the operator sets 2.0's flag. Either the flag must be refused (the 1.0
// instance is live) or the 1.0 binary must fail Initialize (2.0 is
// contract-ready); never both succeed.
func TestFlagSetRacesRegistration(t *testing.T) {
	dir := flagDir(t, nil)
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := flagCLI(t, db, dir)
		c(0, "expand")
		g := db.Open(t)
		var once sync.Once
		var flag result
		err := g.Callback().Create().Before("gorm:begin_transaction").Register("test:flag_race", func(tx *gorm.DB) {
			if tx.Statement.Table == store.InstancesTable {
				// The operator's flip lands between the guard's read and the registration.
				once.Do(func() {
					flag = run(t, "flag", "set", "contract-ready", "--release", "2.0", "--dsn", db.DSN, "--dir", dir)
				})
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		old := compat.New(versions.MustParse("1.0"), compat.WithModels(&flagCustomerV1{}), compat.WithoutListen())
		ierr := g.Use(old)
		if ierr == nil {
			t.Cleanup(func() { _ = old.Close() })
		}
		if flag.code == 0 && ierr == nil {
			insts, _ := store.Instances(context.Background(), db.Gorm)
			st, _ := store.State(context.Background(), db.Gorm, versions.MustParse("2.0"))
			t.Errorf("flag set succeeded (exit 0) AND the 1.0 binary started: 2.0 is %s while 1.0 instance %s is live (instances %d)\n%s",
				st, old.ID(), len(insts), flag.out)
		}
	})
}

// TestFlagInputs: bad input to flag and instances, exit codes,
// journal and actor.
func TestFlagInputs(t *testing.T) {
	dir := flagDir(t, nil)
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := flagCLI(t, db, dir)
		ctx := context.Background()
		c(0, "expand")
		c(1, "flag", "set", "contract-ready", "--release", "3.0")
		c(2, "flag", "set", "contract-ready", "--release", "2.x")
		c(2, "flag", "set", "ready", "--release", "2.0")
		c(2, "flag", "set", "contracted", "--release", "2.0")
		c(2, "flag", "set", "pending", "--release", "2.0")
		c(2, "flag", "show", "extra")
		c(0, "flag", "set", "migrating", "--release", "2.0") // already L(m): nothing to do
		if st, _ := store.State(ctx, db.Gorm, versions.MustParse("2.0")); st != versions.StateExpanded {
			t.Fatalf("2.0 is %s", st)
		}
		c(0, "flag", "set", "contract-ready", "--release", "2.0")
		c(0, "flag", "set", "contract-ready", "--release", "2.0") // again: nothing to do
		c(0, "flag", "set", "migrating", "--release", "2.0")
		r := c(0, "flag", "show")
		if !strings.Contains(r.out, "2.0") || !strings.Contains(r.out, "expanded") || !strings.Contains(r.out, "1.0") {
			t.Errorf("flag show:\n%s", r.out)
		}
		evs, err := store.Events(ctx, db.Gorm, 0)
		if err != nil {
			t.Fatal(err)
		}
		var flips []store.Event
		for _, e := range evs {
			if e.Action == "state" && e.Release == "2.0" && strings.Contains(e.Detail, "flag set") {
				flips = append(flips, e)
			}
		}
		if len(flips) != 2 {
			t.Errorf("flips journaled: %+v", flips)
		}
		for _, e := range flips {
			if e.Actor == "" || e.Actor != store.Actor() {
				t.Errorf("flip without its actor: %+v", e)
			}
		}
		// forget: unknown, live, stale.
		now := store.Now()
		live := store.Instance{ID: "live-1", Host: "h", PID: 1, Release: "1.0", ReleaseStamp: versions.MustParse("1.0").Stamp(),
			StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Hour), SeenState: "contracted", Mode: "L(c)"}
		dead := live
		dead.ID, dead.ExpiresAt, dead.HeartbeatAt = "dead-1", now.Add(-time.Minute), now.Add(-time.Hour)
		for _, in := range []store.Instance{live, dead} {
			in := in
			if err := store.SaveInstance(ctx, db.Gorm, &in); err != nil {
				t.Fatal(err)
			}
		}
		r = c(7, "flag", "set", "contract-ready", "--release", "2.0")
		if !strings.Contains(r.err, "live-1") || strings.Contains(r.err, "dead-1") {
			t.Errorf("refusal lists: %s", r.err)
		}
		if st, _ := store.State(ctx, db.Gorm, versions.MustParse("2.0")); st != versions.StateExpanded {
			t.Errorf("after a refusal 2.0 is %s", st)
		}
		r = c(0, "instances")
		if !strings.Contains(r.out, "live-1") || !strings.Contains(r.out, "dead-1") || !strings.Contains(r.out, "stale") {
			t.Errorf("instances:\n%s", r.out)
		}
		c(1, "instances", "forget", "nope")
		c(1, "instances", "forget", "live-1")
		c(2, "instances", "forget")
		c(0, "instances", "forget", "dead-1")
		c(1, "instances", "forget", "dead-1")
		c(0, "instances", "forget", "live-1", "--force")
		evs, _ = store.Events(ctx, db.Gorm, 0)
		n := 0
		for _, e := range evs {
			if e.Action == "forget" {
				n++
				if e.Actor != store.Actor() {
					t.Errorf("forget without actor: %+v", e)
				}
			}
		}
		if n != 2 {
			t.Errorf("%d forget events, want 2", n)
		}
		c(0, "flag", "set", "contract-ready", "--release", "2.0")
	})
}

// TestFlagWrongPassword: the password of a wrong DSN is never printed
// by flag and instances.
func TestFlagWrongPassword(t *testing.T) {
	dbtest.Require(t, dialect.MySQL)
	const pw = "Wr0ng-Secret-9"
	db := dbtest.New(t, dialect.MySQL)
	dsn := "root:" + pw + "@tcp(127.0.0.1:3306)/" + db.Name + "?parseTime=true"
	for _, args := range [][]string{
		{"flag", "show"},
		{"flag", "set", "contract-ready", "--release", "2.0"},
		{"instances"},
		{"instances", "forget", "x"},
	} {
		r := run(t, append(args, "--dsn", dsn, "--dir", flagDir(t, nil), "-v")...)
		if r.code != 1 {
			t.Errorf("%v with a wrong password exited %d", args, r.code)
		}
		if strings.Contains(r.out+r.err, pw) {
			t.Errorf("%v printed the password:\n%s%s", args, r.out, r.err)
		}
	}
}

// TestContractWaitsForAck: contract is refused while a live 2.0
// instance has not seen the flag, and while rows are stale; a stale
// instance does not block it.
func TestContractWaitsForAck(t *testing.T) {
	dir := flagDir(t, map[string]string{"2.0_migrate01_fill.sql": "-- tandem:backfill customers\ngiven_name = name;\n"})
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := flagCLI(t, db, dir)
		ctx := context.Background()
		c(0, "expand")
		// A 2.0 instance that polls rarely and does not listen: it has not
		// seen the flip when the contract runs.
		p := compat.New(versions.MustParse("2.0"), compat.WithModels(&flagCustomerV2{}), compat.WithoutListen(),
			compat.WithPollInterval(time.Hour), compat.WithHeartbeat(50*time.Millisecond, time.Hour))
		g := db.Open(t)
		if err := g.Use(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		db.Exec(t, "INSERT INTO customers (id, name, obj_version) VALUES (1, 'Ada', ?)", versions.MustParse("1.0").Stamp())
		c(0, "migrate")
		c(0, "flag", "set", "contract-ready", "--release", "2.0")
		time.Sleep(200 * time.Millisecond) // several heartbeats, all with the old state
		r := c(7, "contract", "--yes")
		if !strings.Contains(r.err, p.ID()) || !strings.Contains(r.err, "has not acknowledged") {
			t.Errorf("refusal:\n%s", r.err)
		}
		if cols := db.Columns(t, "customers"); !flagHasColumn(cols, "name") {
			t.Errorf("refused contract changed the schema: %v", cols)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(p.Close())
		// A stale 2.0 instance that never saw the flag does not block.
		now := store.Now()
		stale := store.Instance{ID: "stale-2", Host: "h", PID: 1, Release: "2.0", ReleaseStamp: versions.MustParse("2.0").Stamp(),
			StartedAt: now.Add(-time.Hour), HeartbeatAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute), SeenState: "expanded", Mode: "L(m)"}
		must(store.SaveInstance(ctx, db.Gorm, &stale))
		// A row a raw write left stale blocks it.
		db.Exec(t, "INSERT INTO customers (id, name, obj_version) VALUES (2, 'Bob', 0)")
		r = c(7, "contract", "--yes")
		if !strings.Contains(r.err, "stamped below 2.0") || strings.Contains(r.err, "stale-2") {
			t.Errorf("refusal:\n%s", r.err)
		}
		db.Exec(t, "DELETE FROM customers WHERE id = 2")
		c(0, "contract", "--yes")
	})
}

// TestStatusShowsModelConflict: two instances of 2.0 with different
// declarations: the second fails, and tandem status shows the conflict.
func TestStatusShowsModelConflict(t *testing.T) {
	dir := flagDir(t, nil)
	db := dbtest.New(t, dialect.SQLite)
	c := flagCLI(t, db, dir)
	c(0, "expand")
	p := compat.New(versions.MustParse("2.0"), compat.WithModels(&flagCustomerV2{}), compat.WithoutListen())
	if err := db.Open(t).Use(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	odd := compat.New(versions.MustParse("2.0"), compat.WithModels(&oddCustomerV2{}), compat.WithoutListen())
	err := db.Open(t).Use(odd)
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("odd instance: %v", err)
	}
	if insts, _ := store.Instances(context.Background(), db.Gorm); len(insts) != 1 || insts[0].ID != p.ID() {
		t.Errorf("odd instance registered: %+v", insts)
	}
	r := c(0, "status")
	if !strings.Contains(r.out, "model registry conflict") {
		t.Errorf("status:\n%s", r.out)
	}
	r = c(0, "status", "--json")
	if !strings.Contains(r.out, "model_conflicts") {
		t.Errorf("status --json:\n%s", r.out)
	}
}
