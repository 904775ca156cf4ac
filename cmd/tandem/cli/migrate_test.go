package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/cmd/tandem/cli"
	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// shopRun runs the shop's own tandem (its migrations and models compiled in).
func shopRun(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		cli.WithMigrations(shop.Migrations()), cli.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}))
	return result{code, out.String(), errb.String()}
}

// TestMigrateBackfillThroughTheCLI: --max-rows stops with exit code 8,
// --json reports progress as JSON lines, a second run finishes, and coverage
// and check agree.
func TestMigrateBackfillThroughTheCLI(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := func(want int, args ...string) result {
			t.Helper()
			r := shopRun(t, append(args, "--dsn", db.DSN)...)
			if r.code != want {
				t.Fatalf("shop-tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}
		c(0, "expand", "--release", "1.0")
		for i := 1; i <= 120; i++ {
			db.Exec(t, "INSERT INTO customers (name, email, obj_version) VALUES (?, ?, ?)", "Ada Lovelace", "a@example.com", shop.V1.Stamp())
			db.Exec(t, "INSERT INTO parcels (customer_id, weight_lb, obj_version) VALUES (?, ?, ?)", i, i%40+1, shop.V1.Stamp())
		}
		c(0, "expand")
		c(4, "coverage", "--release", "2.0")
		r := c(8, "migrate", "--max-rows", "100", "--batch-size", "40", "--json")
		var rep struct {
			Backfill []struct {
				Table string `json:"table"`
				Rows  int64  `json:"rows"`
			} `json:"backfill"`
		}
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
			t.Fatalf("migrate --json stdout: %v\n%s", err, r.out)
		}
		var total int64
		for _, b := range rep.Backfill {
			total += b.Rows
		}
		if total != 100 {
			t.Errorf("--max-rows 100 converted %d rows: %+v", total, rep)
		}
		lines := 0
		sc := bufio.NewScanner(strings.NewReader(r.err))
		for sc.Scan() {
			var p struct {
				Table string `json:"table"`
				Done  int64  `json:"done"`
			}
			if json.Unmarshal(sc.Bytes(), &p) == nil && p.Table != "" {
				lines++
			}
		}
		if lines == 0 {
			t.Errorf("no JSON progress lines on stderr:\n%s", r.err)
		}
		c(4, "check")
		// The rest runs with a redo limit: MariaDB checks its redo before
		// each batch, the other servers say that they ignore it.
		r = c(0, "migrate", "--redo-limit", "0.5")
		ignored := "redo limit 0.5: only MariaDB reports its redo checkpoint age; ignored on " + string(db.Dialect)
		if db.Dialect == dialect.MySQL {
			if strings.Contains(r.err, "ignored") {
				t.Errorf("migrate --redo-limit on MariaDB says it is ignored:\n%s", r.err)
			}
		} else if !strings.Contains(r.err, ignored) {
			t.Errorf("migrate --redo-limit on %s: stderr lacks %q:\n%s", db.Dialect, ignored, r.err)
		}
		c(0, "coverage", "--release", "2.0")
		c(5, "check")
		if n := db.QueryInt(t, "SELECT COUNT(*) FROM customers WHERE given_name = 'Ada' AND family_name = 'Lovelace'"); n != 120 {
			t.Errorf("%d customers converted, want 120", n)
		}
	})
}
