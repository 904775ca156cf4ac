package dbtest_test

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// helperEnv tells TestHelperProcess, run in a child process, what to do:
// "require:<dialect>" or "fail:<dialect>".
const helperEnv = "TANDEM_DBTEST_HELPER"

// TestHelperProcess is not a test of its own: the tests below run this test
// binary again with helperEnv set, and it acts as a test using the harness.
func TestHelperProcess(t *testing.T) {
	mode, name, ok := strings.Cut(os.Getenv(helperEnv), ":")
	if !ok {
		return
	}
	switch mode {
	case "require":
		dbtest.Require(t, dialect.Name(name))
		t.Log("server available")
	case "fail":
		db := dbtest.New(t, dialect.Name(name))
		t.Logf("created database=%s", db.Name)
		db.Exec(t, "CREATE TABLE t (id INTEGER)")
		t.Fatal("deliberate failure")
	}
}

// runHelper runs TestHelperProcess in a child process with env added to a
// copy of this process's environment from which TANDEM_REQUIRE_DBS is taken
// out. It returns the exit code and the combined output.
func runHelper(t *testing.T, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, dbtest.EnvRequireDBs+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run helper: %v", err)
	return 0, ""
}

func TestUnreachableServer(t *testing.T) {
	const secret = "s3cr3t-pw"
	tests := []struct {
		name     dialect.Name
		env      string
		dsn      string
		require  bool
		wantExit bool // a non-zero exit
		want     []string
	}{
		{dialect.Postgres, dbtest.EnvPostgresDSN, "postgres://root:" + secret + "@127.0.0.1:1/postgres?sslmode=disable", true, true,
			[]string{"--- FAIL: TestHelperProcess", "127.0.0.1:1", "root:xxxxx@", dbtest.EnvPostgresDSN, "TANDEM_REQUIRE_DBS=1 is set"}},
		{dialect.Postgres, dbtest.EnvPostgresDSN, "postgres://root:" + secret + "@127.0.0.1:1/postgres?sslmode=disable", false, false,
			[]string{"--- SKIP: TestHelperProcess", "127.0.0.1:1", "root:xxxxx@", dbtest.EnvPostgresDSN, "set TANDEM_REQUIRE_DBS=1"}},
		{dialect.MySQL, dbtest.EnvMySQLDSN, "root:" + secret + "@tcp(127.0.0.1:1)/", true, true,
			[]string{"--- FAIL: TestHelperProcess", "127.0.0.1:1", "root:xxxxx@", dbtest.EnvMySQLDSN, "TANDEM_REQUIRE_DBS=1 is set"}},
		{dialect.MySQL, dbtest.EnvMySQLDSN, "root:" + secret + "@tcp(127.0.0.1:1)/", false, false,
			[]string{"--- SKIP: TestHelperProcess", "127.0.0.1:1", "root:xxxxx@", dbtest.EnvMySQLDSN, "set TANDEM_REQUIRE_DBS=1"}},
	}
	for _, tt := range tests {
		name := string(tt.name) + "/skip"
		env := []string{helperEnv + "=require:" + string(tt.name), tt.env + "=" + tt.dsn}
		if tt.require {
			name = string(tt.name) + "/require"
			env = append(env, dbtest.EnvRequireDBs+"=1")
		}
		t.Run(name, func(t *testing.T) {
			code, out := runHelper(t, env...)
			if (code != 0) != tt.wantExit {
				t.Errorf("exit code %d, want non-zero: %v\n%s", code, tt.wantExit, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, secret) {
				t.Errorf("output shows the password:\n%s", out)
			}
		})
	}
}

func TestBadServerDSNFails(t *testing.T) {
	code, out := runHelper(t, helperEnv+"=require:postgres", dbtest.EnvPostgresDSN+"=oracle://scott:tiger@db/orcl")
	if code == 0 {
		t.Errorf("exit code 0, want a failure for an unreadable DSN:\n%s", out)
	}
	for _, w := range []string{"--- FAIL: TestHelperProcess", dbtest.EnvPostgresDSN, `unsupported scheme "oracle"`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "tiger") {
		t.Errorf("output shows the password:\n%s", out)
	}
}

func TestFailedTestStillDropsDatabase(t *testing.T) {
	created := regexp.MustCompile(`created database=(\S+)`)
	for _, name := range dbtest.Dialects() {
		t.Run(string(name), func(t *testing.T) {
			dbtest.Require(t, name)
			code, out := runHelper(t, helperEnv+"=fail:"+string(name))
			if code == 0 || !strings.Contains(out, "deliberate failure") {
				t.Fatalf("helper exit code %d, want the deliberate failure:\n%s", code, out)
			}
			m := created.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("helper did not report its database:\n%s", out)
			}
			if databaseExists(t, name, m[1]) {
				t.Errorf("database %s of a failed test still exists", m[1])
			}
		})
	}
}
