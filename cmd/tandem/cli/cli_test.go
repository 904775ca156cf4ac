package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemdb/tandem/cmd/tandem/cli"
	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

type result struct {
	code     int
	out, err string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return result{code, out.String(), errb.String()}
}

func TestVersionAndHelp(t *testing.T) {
	r := run(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "tandem ") {
		t.Errorf("version: %+v", r)
	}
	r = run(t, "version", "--json")
	var info map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.out), &info) != nil || info["version"] == "" {
		t.Errorf("version --json: %+v", r)
	}
	r = run(t, "help")
	if r.code != 0 {
		t.Fatalf("help: %+v", r)
	}
	for _, c := range []string{"init", "status", "check", "expand", "migrate", "contract", "history", "validate", "repair", "baseline", "plan", "version", "flag", "instances", "coverage", "archive", "backup", "demo"} {
		if !strings.Contains(r.out, "\n  "+c+" ") {
			t.Errorf("help does not list %s", c)
		}
		h := run(t, "help", c)
		if h.code != 0 || !strings.Contains(h.out, "Example:\n  tandem") || !strings.Contains(h.out, "Usage: tandem "+c) {
			t.Errorf("help %s lacks usage or an example: %+v", c, h)
		}
		if h2 := run(t, c, "--help"); h2.code != 0 || h2.out != h.out {
			t.Errorf("%s --help differs from help %s", c, c)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("TANDEM_DSN", "")
	t.Setenv("DATABASE_URL", "")
	tests := []struct {
		args []string
		code int
		text string
	}{
		{nil, 2, "Usage: tandem"},
		{[]string{"expnad"}, 2, `Did you mean "expand"?`},
		{[]string{"status", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"status", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"status"}, 2, "no database given"},
		{[]string{"expand", "--dsn", "oracle://x"}, 2, "oracle"},
		{[]string{"expand", "--dsn", "sqlite::memory:", "--release", "2.x"}, 2, `"2.x"`},
		{[]string{"expand", "--dsn", "sqlite::memory:", "--dir", "/nonexistent/dir"}, 2, "not found"},
		{[]string{"flag", "--dsn", "sqlite::memory:"}, 2, "want 'flag show'"},
		{[]string{"flag", "set", "bogus", "--release", "1.0", "--dsn", "sqlite::memory:"}, 2, "want contract-ready"},
		{[]string{"baseline", "--dsn", "sqlite::memory:", "--yes"}, 2, "--release is required"},
	}
	for _, tt := range tests {
		r := run(t, tt.args...)
		if r.code != tt.code || !strings.Contains(r.err+r.out, tt.text) {
			t.Errorf("tandem %v = %d\nstdout: %s\nstderr: %s\nwant %d and %q", tt.args, r.code, r.out, r.err, tt.code, tt.text)
		}
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	dbtest.Require(t, dialect.MySQL)
	const pw = "S3cret-Pw"
	for _, dsn := range []string{
		"mysql://root:" + pw + "@127.0.0.1:3306/tandem_no_such_db",
		"root:" + pw + "@tcp(127.0.0.1:3306)/tandem_no_such_db",
		"postgres://nobody:" + pw + "@127.0.0.1:1/x?sslmode=disable",
		"host=127.0.0.1 port=1 user=nobody password=" + pw + " dbname=x sslmode=disable",
	} {
		r := run(t, "status", "--dsn", dsn, "-v")
		if r.code != 1 {
			t.Errorf("status on an unreachable DSN exited %d, want 1: %s", r.code, r.err)
		}
		if strings.Contains(r.out+r.err, pw) {
			t.Errorf("the password was printed:\n%s%s", r.out, r.err)
		}
	}
}

// TestUpgradeThroughTheCLI walks the README's "Upgrading a database" on
// every dialect and checks each exit code.
func TestUpgradeThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"1.0_baseline.sql":                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL DEFAULT '', obj_version BIGINT NOT NULL DEFAULT 0);\nINSERT INTO customers (id, name) VALUES (1, 'Ada Lovelace');\n",
		"2.0_expand01_add_given_name.sql": "ALTER TABLE customers ADD given_name VARCHAR(100);\n",
		"2.0_migrate01_fill.sql":          "UPDATE customers SET given_name = name WHERE given_name IS NULL;\n",
		"2.0_contract01_drop_name.sql":    "ALTER TABLE customers DROP COLUMN name;\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := func(want int, args ...string) result {
			t.Helper()
			r := run(t, append(args, "--dsn", db.DSN, "--dir", dir)...)
			if r.code != want {
				t.Fatalf("tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}
		c(3, "check")
		if r := c(0, "plan"); !strings.Contains(r.out, "-- 1.0_baseline: 1.0_baseline.sql") || !strings.Contains(r.out, "DROP COLUMN name") {
			t.Errorf("plan output:\n%s", r.out)
		}
		if tables := db.Tables(t); len(tables) != 0 {
			t.Fatalf("plan created tables: %v", tables)
		}
		c(0, "expand", "--dry-run")
		if tables := db.Tables(t); len(tables) != 0 {
			t.Fatalf("expand --dry-run created tables: %v", tables)
		}
		c(0, "expand")
		c(4, "check")
		c(7, "contract", "--yes") // before migrate: the gate refuses, listing every reason
		c(0, "migrate")
		c(5, "check", "--release", "2.0")
		c(7, "contract", "--yes")
		c(2, "contract") // stdin is not a terminal and --yes is missing
		c(0, "flag", "set", "contract-ready", "--release", "2.0")
		c(6, "check")
		c(0, "contract", "--yes")
		c(0, "check")
		r := c(0, "status", "--json")
		var st struct {
			Schema   string `json:"schema_version"`
			Releases []struct {
				Release string `json:"release"`
				State   string `json:"state"`
				Heads   string `json:"heads"`
			} `json:"releases"`
		}
		if err := json.Unmarshal([]byte(r.out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r.out)
		}
		if st.Schema != "1.0_baseline; 2.0_expand01, 2.0_contract01" || len(st.Releases) != 2 || st.Releases[1].State != "contracted" || st.Releases[0].Heads != "1.0_baseline" {
			t.Errorf("status = %+v", st)
		}
		if cols := strings.Join(db.Columns(t, "customers"), ","); cols != "given_name,id,obj_version" {
			t.Errorf("customers columns = %s", cols)
		}
		if n := db.QueryInt(t, "SELECT COUNT(*) FROM customers WHERE given_name = 'Ada Lovelace'"); n != 1 {
			t.Errorf("migrated row missing")
		}
		if r := c(0, "history"); !strings.Contains(r.out, "2.0_contract01") || !strings.Contains(r.out, "contract") {
			t.Errorf("history:\n%s", r.out)
		}
	})
}

// TestFlagRefusedWhileOldInstancesLive: the flag is refused, with exit code
// 7 and the instances listed, while an instance of an older release is live;
// stale instances are listed as such and can be forgotten.
func TestFlagRefusedWhileOldInstancesLive(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"1.0_baseline.sql":                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(200), obj_version BIGINT NOT NULL DEFAULT 0);\n",
		"2.0_expand01_add_given_name.sql": "ALTER TABLE customers ADD given_name VARCHAR(100);\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := func(want int, args ...string) result {
			t.Helper()
			r := run(t, append(args, "--dsn", db.DSN, "--dir", dir)...)
			if r.code != want {
				t.Fatalf("tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}
		c(0, "expand", "--release", "1.0")
		c(7, "flag", "set", "contract-ready", "--release", "2.0") // 2.0 not expanded yet
		c(0, "expand")
		old := compat.New(versions.MustParse("1.0"), compat.WithHeartbeat(100*time.Millisecond, 10*time.Second))
		if err := db.Open(t).Use(old); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = old.Close() })
		// A dead instance of 1.0: its heartbeat expired long ago.
		dead := store.Instance{ID: "dead-1", Host: "gone", PID: 4242, Release: "1.0", ReleaseStamp: versions.MustParse("1.0").Stamp(),
			StartedAt: store.Now().Add(-time.Hour), HeartbeatAt: store.Now().Add(-time.Hour), ExpiresAt: store.Now().Add(-59 * time.Minute), SeenState: "contracted", Mode: "L(c)"}
		if err := store.SaveInstance(context.Background(), db.Gorm, &dead); err != nil {
			t.Fatal(err)
		}
		r := c(7, "flag", "set", "contract-ready", "--release", "2.0")
		if !strings.Contains(r.err, old.ID()) || strings.Contains(r.err, "dead-1") || !strings.Contains(r.err, "runs release 1.0") {
			t.Errorf("refusal does not list exactly the live old instance:\n%s", r.err)
		}
		if r := c(0, "flag", "show"); !strings.Contains(r.out, "expanded") {
			t.Errorf("flag show after a refusal:\n%s", r.out)
		}
		r = c(0, "instances")
		if !strings.Contains(r.out, old.ID()) || !strings.Contains(r.out, "dead-1") || !strings.Contains(r.out, "stale") {
			t.Errorf("instances:\n%s", r.out)
		}
		c(1, "instances", "forget", old.ID()) // live: refused
		c(1, "instances", "forget", "no-such-instance")
		c(0, "instances", "forget", "dead-1")
		if r := c(0, "history"); !strings.Contains(r.out, "forget") || !strings.Contains(r.out, "dead-1") {
			t.Errorf("forget not journaled:\n%s", r.out)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		c(0, "flag", "set", "contract-ready", "--release", "2.0")
		c(0, "flag", "set", "migrating", "--release", "2.0") // flip back
		r = c(0, "flag", "show", "--json")
		if !strings.Contains(r.out, `"state": "expanded"`) {
			t.Errorf("after flip back:\n%s", r.out)
		}
	})
}

// TestValidateContractScope: with a database, validate compares the contract
// migrations with the deprecated columns of the model registry.
func TestValidateContractScope(t *testing.T) {
	db := dbtest.New(t, dialect.SQLite)
	dir := filepath.Join("..", "..", "..", "examples", "shop", "migrations")
	if r := run(t, "expand", "--dsn", db.DSN, "--dir", dir); r.code != 0 {
		t.Fatalf("expand: %+v", r)
	}
	register := func(m any) {
		t.Helper()
		spec, err := model.SpecOf(db.Gorm, m)
		if err != nil {
			t.Fatal(err)
		}
		err = store.RegisterModel(context.Background(), db.Gorm, &store.ModelSpec{Release: "2.0", Table: spec.Table, ReleaseStamp: versions.MustParse("2.0").Stamp(),
			Model: spec.Model, Spec: store.NewSpecDoc(spec).JSON(), RegisteredAt: store.Now(), Instance: "test"})
		if err != nil {
			t.Fatal(err)
		}
	}
	register(&shop.CustomerV2{})
	r := run(t, "validate", "--dsn", db.DSN, "--dir", dir)
	if r.code != 1 || !strings.Contains(r.out, "weight_lb") {
		t.Errorf("validate with a contract dropping an undeclared column: %d\n%s%s", r.code, r.out, r.err)
	}
	register(&shop.ParcelV2{})
	if r := run(t, "validate", "--dsn", db.DSN, "--dir", dir); r.code != 0 || strings.Contains(r.out, "problem:") {
		t.Errorf("validate with every drop declared: %d\n%s%s", r.code, r.out, r.err)
	}
}

// TestRefusalsLeaveUnmanagedDatabaseAlone: flag set and instances forget,
// pointed at a database tandem does not manage (a wrong --dsn, say),
// refuse with their exit codes and leave it exactly as it was, without
// tandem's tables.
func TestRefusalsLeaveUnmanagedDatabaseAlone(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE app_data (id INTEGER PRIMARY KEY)")
		before := dbState(t, db)
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"flag", "set", "contract-ready", "--release", "2.0"}, 7, "its expand is not applied"},
			{[]string{"flag", "set", "migrating", "--release", "2.0"}, 7, `release 2.0 cannot go from "pending" to "expanded"`},
			{[]string{"instances", "forget", "no-such-instance"}, 1, `no such instance: "no-such-instance"`},
		} {
			r := shopCLI(context.Background(), append(c.args, "--dsn", db.DSN)...)
			if r.code != c.code || !strings.Contains(r.err, c.want) {
				t.Errorf("tandem %v = %d, want %d and %q\nstdout: %s\nstderr: %s", c.args, r.code, c.code, c.want, r.out, r.err)
			}
			if after := dbState(t, db); after != before {
				t.Errorf("tandem %v changed the database:\n%s", c.args, lineDiff(before, after))
			}
		}
	})
}

// oddCustomerV2 is a build of 2.0 that declares customers differently from
// the shop's CustomerV2.
type oddCustomerV2 struct {
	ID        uint   `gorm:"primaryKey"`
	GivenName string `gorm:"size:100" tandem:"added=2.0"`
	model.Stamp
}

func (oddCustomerV2) TableName() string { return "customers" }

// TestModelConflictClearsAfterRedeploy: an odd build of 2.0 starts first;
// the right build fails beside it with *store.ConflictError and tandem
// status shows the conflict. Once the odd build has stopped, the right
// build starts, its declaration is recorded, and the conflict is gone
// from status.
func TestModelConflictClearsAfterRedeploy(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := func(want int, args ...string) result {
			t.Helper()
			r := shopCLI(context.Background(), append(args, "--dsn", db.DSN)...)
			if r.code != want {
				t.Fatalf("tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}
		c(0, "expand", "--release", "2.0")
		odd := compat.New(shop.V2, compat.WithModels(&oddCustomerV2{}, &shop.ParcelV2{}), compat.WithoutListen())
		if err := db.Open(t).Use(odd); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = odd.Close() })
		right := func() (*compat.Plugin, error) {
			p := compat.New(shop.V2, compat.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}), compat.WithoutListen())
			err := db.Open(t).Use(p)
			if err == nil {
				t.Cleanup(func() { _ = p.Close() })
			}
			return p, err
		}
		var ce *store.ConflictError
		if _, err := right(); !errors.As(err, &ce) {
			t.Fatalf("the right build beside the odd one: %v", err)
		}
		if r := c(0, "status"); !strings.Contains(r.out, "model registry conflict") {
			t.Errorf("status with both builds:\n%s", r.out)
		}
		if err := odd.Close(); err != nil {
			t.Fatal(err)
		}
		p, err := right()
		if err != nil {
			t.Fatalf("the right build after the odd one stopped: %v", err)
		}
		if r := c(0, "status"); strings.Contains(r.out, "conflict") {
			t.Errorf("status after the redeploy:\n%s", r.out)
		}
		models, err := store.Models(context.Background(), db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range models {
			if m.Table == "customers" && (m.Instance != p.ID() || m.Conflict != "") {
				t.Errorf("customers recorded after the redeploy: %+v", m)
			}
		}
	})
}
