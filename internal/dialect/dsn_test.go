package dialect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemdb/tandem/internal/dialect"
)

const (
	fileDefaults   = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate"
	memoryDefaults = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	mysqlDefaults  = "parseTime=true&multiStatements=false"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		in       string
		dialect  dialect.Name
		dsn      string
		password string // for MySQL: the password the driver must read back
	}{
		{"postgres://root@127.0.0.1:5432/postgres?sslmode=disable", dialect.Postgres, "postgres://root@127.0.0.1:5432/postgres?sslmode=disable", ""},
		{"postgresql://u:p%40ss%2Fw@db.example:5433/app", dialect.Postgres, "postgresql://u:p%40ss%2Fw@db.example:5433/app", ""},
		{"PostgreSQL://u@db/app", dialect.Postgres, "postgresql://u@db/app", ""},
		{"  host=localhost port=5432 user=app dbname=app sslmode=disable \n", dialect.Postgres, "host=localhost port=5432 user=app dbname=app sslmode=disable", ""},
		{`host=localhost password='a b\'c' dbname=app`, dialect.Postgres, `host=localhost password='a b\'c' dbname=app`, ""},
		{"mysql://app:s3cret@db:3306/shop", dialect.MySQL, "app:s3cret@tcp(db:3306)/shop?" + mysqlDefaults, "s3cret"},
		{"mysql://app:p%40ss%3Aw%2Frd%3F%23@db/shop?charset=utf8mb4", dialect.MySQL, "app:p@ss:w/rd?#@tcp(db:3306)/shop?charset=utf8mb4&" + mysqlDefaults, "p@ss:w/rd?#"},
		{"mysql://root@127.0.0.1:3306/?parseTime=true&multiStatements=true", dialect.MySQL, "root@tcp(127.0.0.1:3306)/?parseTime=true&multiStatements=true", ""},
		{"mariadb://root@[::1]/x", dialect.MySQL, "root@tcp([::1]:3306)/x?" + mysqlDefaults, ""},
		{"mysql:///x", dialect.MySQL, "tcp(127.0.0.1:3306)/x?" + mysqlDefaults, ""},
		{"root:@tcp(127.0.0.1:3306)/?parseTime=true", dialect.MySQL, "root:@tcp(127.0.0.1:3306)/?parseTime=true&multiStatements=false", ""},
		{"app:pa/ss@tcp(db:3306)/shop", dialect.MySQL, "app:pa/ss@tcp(db:3306)/shop?" + mysqlDefaults, "pa/ss"},
		{"app@unix(/run/mysqld/mysqld.sock)/shop?loc=UTC", dialect.MySQL, "app@unix(/run/mysqld/mysqld.sock)/shop?loc=UTC&" + mysqlDefaults, ""},
		{"sqlite:/tmp/x.db", dialect.SQLite, "/tmp/x.db?" + fileDefaults, ""},
		{"sqlite:///tmp/x.db", dialect.SQLite, "/tmp/x.db?" + fileDefaults, ""},
		{"sqlite://data/app.sqlite", dialect.SQLite, "data/app.sqlite?" + fileDefaults, ""},
		{"sqlite3:app", dialect.SQLite, "app?" + fileDefaults, ""},
		{"file:app.db?mode=ro", dialect.SQLite, "file:app.db?mode=ro&" + memoryDefaults, ""},
		{"data/app.sqlite3", dialect.SQLite, "data/app.sqlite3?" + fileDefaults, ""},
		{"/srv/x:y@z/app.db", dialect.SQLite, "/srv/x:y@z/app.db?" + fileDefaults, ""},
		{"sqlite::memory:", dialect.SQLite, ":memory:?" + memoryDefaults, ""},
		{"app.db?_pragma=journal_mode(DELETE)&_txlock=deferred", dialect.SQLite,
			"app.db?_pragma=journal_mode(DELETE)&_txlock=deferred&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := dialect.ParseDSN(tt.in)
			if err != nil {
				t.Fatalf("ParseDSN: %v", err)
			}
			want := dialect.Target{Dialect: tt.dialect, DSN: tt.dsn}
			if got != want {
				t.Fatalf("ParseDSN = %#v, want %#v", got, want)
			}
			// The driver DSN is itself accepted and parses to itself, except
			// an SQLite path without a telling extension.
			again, err := dialect.ParseDSN(got.DSN)
			if tt.in != "sqlite3:app" && (err != nil || again != got) {
				t.Errorf("ParseDSN(%q) = %#v, %v; want it unchanged", got.DSN, again, err)
			}
			if tt.dialect == dialect.MySQL {
				cfg, err := mysql.ParseDSN(got.DSN)
				if err != nil {
					t.Fatalf("driver rejects %q: %v", got.DSN, err)
				}
				if cfg.Passwd != tt.password || !cfg.ParseTime {
					t.Errorf("driver reads password %q, parseTime %v; want %q, true", cfg.Passwd, cfg.ParseTime, tt.password)
				}
			}
		})
	}
}

func TestParseDSNErrors(t *testing.T) {
	tests := []struct {
		in     string
		want   string // in the error message
		secret string // never in the error message
	}{
		{"", "empty connection string", ""},
		{"   ", "empty connection string", ""},
		{"oracle://scott:tiger@db:1521/orcl", `unsupported scheme "oracle"`, "tiger"},
		{"not a dsn at all", "not a connection string", ""},
		{"mysql://u:p#ss@db/x", "not a valid MySQL URL", "p#ss"},
		{"postgres://u:pa#ss@db/x", "not a valid PostgreSQL URL", "pa#ss"},
		{"postgres://u:hunter2@db:notaport/x", "not a valid PostgreSQL URL", "hunter2"},
		{"postgres://u:hunter2@db/x?sslmode=bogus", "sslmode", "hunter2"},
		{"postgres://u:hunter2@db/x?password=hunter2&sslmode=bogus", "sslmode", "hunter2"},
		{"host=db password='unterminated dbname=x", "closing quote", "unterminated"},
		{"host=db password=hunter2 sslmode=bogus", "sslmode", "hunter2"},
		{"host=db password=hunter2 orphan", "without '='", "hunter2"},
		{"mysql://u:hunter2@db/x?parseTime=false", "parseTime must be true", "hunter2"},
		{"u:hunter2@tcp(db:3306)/x?parseTime=0", "parseTime must be true", "hunter2"},
		{"u:hunter2@tcp(db:3306", "missing the '/'", "hunter2"},
		{"u:hunter2@tcp(db:3306)/x?timeout=soon", "not a valid MySQL DSN", "hunter2"},
		{"mysql://u:hunter2@db/a/b", "database name contains '/'", "hunter2"},
		{"sqlite:", "missing the database file path", ""},
		{"sqlite:x.db?a=%zz", "malformed query", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := dialect.ParseDSN(tt.in)
			if err == nil {
				t.Fatalf("ParseDSN = %#v, want an error", got)
			}
			var de *dialect.DSNError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DSNError: %v", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q lacks %q", msg, tt.want)
			}
			if de.Hint == "" {
				t.Errorf("error %q has no hint", msg)
			}
			if tt.secret != "" && (strings.Contains(msg, tt.secret) || strings.Contains(de.Input, tt.secret)) {
				t.Errorf("error shows the password %q: %s", tt.secret, msg)
			}
		})
	}
}

func TestTargetDatabase(t *testing.T) {
	tests := []struct {
		in      string
		db      string // Database before
		newName string
		want    string // DSN after WithDatabase(newName)
	}{
		{"postgres://root@h:5432/postgres?sslmode=disable", "postgres", "tandem_t_1", "postgres://root@h:5432/tandem_t_1?sslmode=disable"},
		{"postgres://root@h", "", "x", "postgres://root@h/x"},
		{"postgres://u:p%2Fw@h?sslmode=disable", "", "x", "postgres://u:p%2Fw@h/x?sslmode=disable"},
		{"postgres://u:p@ss@h/old%20db", "old db", "new db", "postgres://u:p@ss@h/new%20db"},
		{"host=h dbname=postgres user=u", "postgres", "x", "host=h dbname=x user=u"},
		{"host=h user=u", "", "my db", "host=h user=u dbname='my db'"},
		{"root:@tcp(h:3306)/?parseTime=true", "", "x", "root:@tcp(h:3306)/x?parseTime=true&multiStatements=false"},
		{"mysql://a:b%2Fc@h/shop", "shop", "x", "a:b/c@tcp(h:3306)/x?parseTime=true&multiStatements=false"},
		{"sqlite:/tmp/a.db", "/tmp/a.db", "/tmp/b.db", "/tmp/b.db?" + fileDefaults},
		{"sqlite::memory:", ":memory:", "/tmp/c.db", "/tmp/c.db?" + memoryDefaults},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			target, err := dialect.ParseDSN(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := target.Database(); got != tt.db {
				t.Errorf("Database = %q, want %q", got, tt.db)
			}
			moved, err := target.WithDatabase(tt.newName)
			if err != nil {
				t.Fatal(err)
			}
			if moved.DSN != tt.want || moved.Dialect != target.Dialect {
				t.Errorf("WithDatabase = %#v, want DSN %q", moved, tt.want)
			}
			if got := moved.Database(); got != tt.newName {
				t.Errorf("Database after WithDatabase = %q, want %q", got, tt.newName)
			}
		})
	}
	if _, err := (dialect.Target{Dialect: dialect.Postgres, DSN: "postgres://h/x"}).WithDatabase(""); err == nil {
		t.Error("WithDatabase(\"\") succeeded, want an error")
	}
}

func TestTargetString(t *testing.T) {
	target, err := dialect.ParseDSN("mysql://app:s3cret@db/shop")
	if err != nil {
		t.Fatal(err)
	}
	want := "app:xxxxx@tcp(db:3306)/shop?" + mysqlDefaults
	if got := target.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
