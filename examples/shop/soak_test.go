package shop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/examples/shop/internal/fleet"
	"github.com/tandemdb/tandem/examples/shop/internal/workload"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// envScale multiplies the soak's size: the minimum length of each writing
// phase, the writers' rate, the writes each must make in a phase, and the
// number of ids.
const envScale = "TANDEM_SOAK_SCALE"

// The soak's size at scale 1: about two seconds of writing per phase.
const (
	phaseLength = 2 * time.Second // each writing phase lasts at least this long...
	phaseWrites = 10              // ...and until every live writer logged this many writes in it
	idsPerScale = 200             // customers (and parcels), shared by four writers
	writeRate   = 25              // writes per second per writer
	// stuck bounds every wait: a phase that makes no progress for this long
	// fails the test instead of hanging it.
	stuck = 2 * time.Minute
)

// TestRollingUpgradeSoak upgrades the shop from release 1.0 to 2.0 with
// both releases running as separate OS processes that write all along:
// expand 1.0, two 1.0 writers, expand 2.0, two 2.0 writers alongside,
// migrate, the flag refused while 1.0 runs, 1.0 stopped with SIGTERM, the
// flag, a final migrate, the contract, 2.0 stopped. Every writer logs each
// committed write; at the end the logs are replayed and every row must hold
// the last value written to it, every row must be at 2.0, and the
// deprecated columns must be gone.
func TestRollingUpgradeSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak builds and runs the shop's binaries; skipped with -short")
	}
	scale := 1
	if v := os.Getenv(envScale); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a whole number from 1", envScale, v)
		}
		scale = n
	}
	binDir := t.TempDir()
	var bins map[string]string
	for _, d := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			db := dbtest.New(t, d)
			if bins == nil {
				const pkg = "github.com/tandemdb/tandem/examples/shop/"
				bins = fleet.Build(t, binDir, map[string]string{"v1": pkg + "v1", "v2": pkg + "v2", "shop-tandem": pkg + "shop-tandem"})
			}
			s := &soak{t: t, db: db, bins: bins, dir: t.TempDir(), scale: scale, start: time.Now(),
				env: []string{"TANDEM_DSN=" + db.DSN}}
			s.run()
		})
	}
}

type soak struct {
	t       *testing.T
	db      *dbtest.DB
	bins    map[string]string
	dir     string
	env     []string
	scale   int
	start   time.Time
	logs    []string  // every write log, in the order the writers owned their ids
	writers []*writer // the live writers
}

type writer struct {
	*fleet.Proc
	log  string
	mark int // log lines when the current phase began
}

func (s *soak) logf(format string, args ...any) {
	s.t.Helper()
	s.t.Logf("%6.2fs %s", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func (s *soak) run() {
	t, n := s.t, idsPerScale*s.scale
	ids := fmt.Sprintf("1-%d", n)

	s.logf("expand 1.0")
	s.tandem(0, "expand", "--release", "1.0")
	s.logf("a 2.0 instance is refused before the 2.0 expand")
	s.expect(fleet.Run(t, s.env, s.bins["v2"], "read"), workload.ExitRefused, "release 2.0 cannot start: its expand is not applied")

	s.logf("release 1.0 seeds %d customers with a parcel each", n)
	seed := s.logPath("seed")
	s.expect(fleet.Run(t, s.env, s.bins["v1"], "seed", "--id-range", ids, "--log", seed), 0, "stopped after")

	// The four writers own a quarter of the ids each, for the whole run.
	v1a, v1b := s.startWriter("v1", ids, 1), s.startWriter("v1", ids, 2)
	s.phase("two 1.0 writers")

	s.logf("expand 2.0 while 1.0 writes")
	s.tandem(0, "expand", "--release", "2.0")
	s.phase("1.0 writers on the expanded schema")

	s.startWriter("v2", ids, 3)
	s.startWriter("v2", ids, 4)
	s.phase("1.0 and 2.0 writers")
	s.dualWrites()
	s.expect(fleet.Run(t, s.env, s.bins["v1"], "read", "--json"), 0, fmt.Sprintf(`{"email":"c%d@shop.example"`, n))

	s.logf("migrate 2.0 while both releases write")
	s.tandem(0, "migrate", "--release", "2.0", "--batch-size", "50")
	s.phase("both releases after the migrate") // 1.0 makes rows stale again
	s.dualWrites()

	s.logf("the ready-for-contract flag is refused while 1.0 runs")
	s.expect(s.run1("flag", "set", "--release", "2.0", "contract-ready"), 7, "cannot be set",
		fmt.Sprintf("pid %d", v1a.PID()), fmt.Sprintf("pid %d", v1b.PID()))

	s.logf("SIGTERM the 1.0 writers")
	s.stop(v1a, v1b)
	s.tandem(0, "flag", "set", "--release", "2.0", "contract-ready")
	s.logf("a 1.0 instance is refused once 2.0 is contract-ready")
	s.expect(fleet.Run(t, s.env, s.bins["v1"], "write", "--id-range", ids, "--duration", "1s"), workload.ExitRefused, "too old")
	s.waitAcknowledged()
	s.phase("2.0 writers in L(c)")

	s.logf("rows 1.0 wrote after the migrate: coverage below 100%%, contract refused")
	s.tandem(4, "coverage", "--release", "2.0")
	s.expect(s.run1("contract", "--release", "2.0", "--yes"), 7, "contract of 2.0 refused", "stamped below 2.0")
	s.tandem(0, "migrate", "--release", "2.0")
	s.tandem(0, "coverage", "--release", "2.0")
	s.dualWrites()

	s.logf("contract 2.0 while 2.0 writes")
	s.tandem(0, "contract", "--release", "2.0", "--yes")
	s.phase("2.0 writers on the contracted schema")
	s.stop(s.writers...)

	s.check(n)
}

// check replays every log and compares the rows, read with plain SQL.
func (s *soak) check(n int) {
	t := s.t
	s.tandem(0, "check", "--release", "2.0")
	s.tandem(0, "coverage", "--release", "2.0")
	want, err := workload.Replay(s.logs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range want.Problems {
		t.Errorf("log: %s", p)
	}
	if len(want.Names) != n || len(want.Kg) != n {
		t.Errorf("the logs hold %d customers and %d parcels, the seed created %d", len(want.Names), len(want.Kg), n)
	}
	cs, ps, err := workload.Rows(context.Background(), s.db.Gorm)
	if err != nil {
		t.Fatal(err)
	}
	res := want.Compare(cs, ps)
	s.logf("%s; %s", want.Summary(), res)
	for _, d := range res.Differences() {
		t.Error(d)
	}
	if res.Customers != n || res.Parcels != n {
		t.Errorf("%d customers and %d parcels, want %d of each", res.Customers, res.Parcels, n)
	}
	for _, tbl := range []string{"customers", "parcels"} {
		if stale := s.db.QueryInt(t, "SELECT COUNT(*) FROM "+tbl+" WHERE obj_version < ?", shop.V2.Stamp()); stale != 0 {
			t.Errorf("%d row(s) of %s are stamped below 2.0", stale, tbl)
		}
	}
	for tbl, cols := range map[string]string{"customers": "email,family_name,given_name,id,obj_version", "parcels": "customer_id,id,obj_version,weight_kg"} {
		if got := strings.Join(s.db.Columns(t, tbl), ","); got != cols {
			t.Errorf("columns of %s after the contract: %s, want %s", tbl, got, cols)
		}
	}
	// The 2.0 binary reads every row as the service sees it and agrees.
	verify := append([]string{"verify"}, logFlags(s.logs)...)
	s.expect(fleet.Run(t, s.env, s.bins["v2"], verify...), 0, "0 lost, 0 wrong, 0 extra")
	var insts []json.RawMessage
	if err := json.Unmarshal([]byte(s.tandem(0, "instances", "--json").Stdout), &insts); err != nil || len(insts) != 0 {
		t.Errorf("every instance stopped and deregistered, yet tandem_instances holds %d (%v)", len(insts), err)
	}
}

// dualWrites checks, while the writers run, that every row stamped 2.0 in
// L(m) also holds what release 1.0 reads.
func (s *soak) dualWrites() {
	s.t.Helper()
	checked, bad, err := workload.DualWrites(context.Background(), s.db.Gorm)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, b := range bad {
		s.t.Error(b)
	}
	if checked == 0 {
		s.t.Errorf("no row is stamped 2.0 in L(m): the 2.0 writers and the backfill wrote nothing")
	}
	s.logf("dual writes: %d rows stamped 2.0 in L(m) hold what 1.0 reads, %d do not", checked-len(bad), len(bad))
}

func logFlags(logs []string) []string {
	var out []string
	for _, l := range logs {
		out = append(out, "--log", l)
	}
	return out
}

func (s *soak) logPath(name string) string {
	p := filepath.Join(s.dir, name+".jsonl")
	s.logs = append(s.logs, p)
	return p
}

// startWriter starts a writer of release bin on share k/4 of ids.
func (s *soak) startWriter(bin, ids string, k int) *writer {
	name := fmt.Sprintf("%s-%d", bin, k)
	w := &writer{log: s.logPath(name)}
	w.Proc = fleet.Start(s.t, name, s.env, s.bins[bin], "write", "--id-range", ids, "--share", fmt.Sprintf("%d/4", k),
		"--seed", strconv.Itoa(k), "--rate", strconv.Itoa(writeRate*s.scale), "--log", w.log, "--poll", "200ms", "--heartbeat", "200ms")
	s.writers = append(s.writers, w)
	s.logf("started %s (pid %d): share %d/4 of ids %s", name, w.PID(), k, ids)
	return w
}

// phase lets the live writers write for at least phaseLength, and until
// each has logged phaseWrites writes since the phase began. A writer that
// exits fails the test.
func (s *soak) phase(what string) {
	s.t.Helper()
	for _, w := range s.writers {
		w.mark = lines(s.t, w.log)
	}
	begin := time.Now()
	s.waitFor(what, func() bool {
		if time.Since(begin) < phaseLength*time.Duration(s.scale) {
			return false
		}
		for _, w := range s.writers {
			if lines(s.t, w.log)-w.mark < phaseWrites*s.scale {
				return false
			}
		}
		return true
	})
	var got []string
	for _, w := range s.writers {
		got = append(got, fmt.Sprintf("%s %d", w.Name, lines(s.t, w.log)-w.mark))
	}
	s.logf("phase %q: writes %s", what, strings.Join(got, ", "))
}

// waitFor polls cond until it holds; a writer that exits, or no success
// within stuck, fails the test.
func (s *soak) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(stuck * time.Duration(s.scale))
	for !cond() {
		for _, w := range s.writers {
			if done, code := w.Exited(); done {
				s.t.Fatalf("%s: writer %s exited with code %d:\n%s", what, w.Name, code, w.Output())
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: no progress for %s", what, stuck)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAcknowledged waits until every live writer's instance runs in L(c).
func (s *soak) waitAcknowledged() {
	s.waitFor("2.0 instances acknowledge L(c)", func() bool {
		var insts []struct {
			Release, Mode string
			Live          bool `json:"live"`
		}
		if err := json.Unmarshal([]byte(s.tandem(0, "instances", "--json").Stdout), &insts); err != nil {
			s.t.Fatal(err)
		}
		acked := 0
		for _, in := range insts {
			if in.Live && in.Release == "2.0" && in.Mode == "L(c)" {
				acked++
			}
		}
		return acked == len(s.writers)
	})
	s.logf("the %d 2.0 instances acknowledged L(c)", len(s.writers))
}

// stop sends SIGTERM to the writers; each must finish its write, log it,
// deregister and exit 0.
func (s *soak) stop(ws ...*writer) {
	s.t.Helper()
	for _, w := range ws {
		if code := w.Stop(s.t); code != 0 {
			s.t.Fatalf("%s exited with %d after SIGTERM:\n%s", w.Name, code, w.Output())
		}
		out := w.Output()
		s.logf("%s stopped: %s", w.Name, strings.TrimSpace(out[strings.LastIndex(out, "stopped after"):]))
	}
	var live []*writer
	for _, w := range s.writers {
		if done, _ := w.Exited(); !done {
			live = append(live, w)
		}
	}
	s.writers = live
}

// tandem runs shop-tandem and requires exit code want.
func (s *soak) tandem(want int, args ...string) fleet.Result {
	s.t.Helper()
	r := s.run1(args...)
	s.expect(r, want)
	return r
}

func (s *soak) run1(args ...string) fleet.Result {
	return fleet.Run(s.t, s.env, s.bins["shop-tandem"], args...)
}

// expect requires exit code want and every text in the output.
func (s *soak) expect(r fleet.Result, want int, texts ...string) {
	s.t.Helper()
	if r.Code != want {
		s.t.Fatalf("exit code %d, want %d\n%s", r.Code, want, r)
	}
	for _, x := range texts {
		if !strings.Contains(r.Stdout+r.Stderr, x) {
			s.t.Fatalf("output lacks %q\n%s", x, r)
		}
	}
}

// lines counts the complete lines of a log.
func lines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte{'\n'})
}
