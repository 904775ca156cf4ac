package cli_test

// The bad-input corpus: every input here is wrong in some way, and for each
// one tandem must give a precise message with a hint, the documented exit
// code, and leave the database exactly as it was (schema, indexes,
// constraints, triggers and every row, tandem_ tables included).
//
// go test -run BadInput ./cmd/tandem/cli -update-doc rewrites the
// "## Bad input" section of docs/RELIABILITY.md from the tables below.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/cmd/tandem/cli"
	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the '## Bad input' section of docs/RELIABILITY.md from the bad-input tables")

// badState is the state of the shop's database a bad input is tried on.
type badState string

const (
	noDB        badState = ""                                  // the input never reaches a database: run once
	atV1        badState = "1.0"                               // the shop's 1.0 baseline, with rows
	expandedV2  badState = "2.0 expanded"                      // + the 2.0 expand and its models registered; rows still at 1.0
	migratedV2  badState = "2.0 migrated"                      // + the 2.0 migrate: every row at 2.0, the flag not set
	readyV2     badState = "2.0 contract-ready"                // + the ready-for-contract flag of 2.0
	oldLiveV2   badState = "2.0 migrated, a 1.0 instance live" // migratedV2 with a 1.0 instance whose heartbeat is current
	brokenV2    badState = "2.0 contract failed"               // readyV2, then a contract whose 2.0_contract01 ran and whose brokenContract failed
	liveOldID            = "web-1-still-running"               // the live 1.0 instance of oldLiveV2
	precious             = "precious: must not be overwritten\n"
	badPassword          = "Wr0ng-Secret-9"
)

// badInput is one bad input given to the CLI.
type badInput struct {
	name  string                     // stable name, for -run and the docs
	what  string                     // what is wrong, for the docs
	state badState                   // the database it is tried on, on every dialect (noDB: once, none)
	on    []dialect.Name             // only these dialects (nil: all three)
	files map[string]string          // the shop's migration files with these added or replaced ("" removes one); nil: the files built in
	args  []string                   // the command line; {file} is an existing file, {gen} a directory holding one generated file, {silent} the port of a server that never answers
	dsn   func(db *dbtest.DB) string // the --dsn to use instead of the state's
	dsnAs string                     // how the docs show that DSN
	noDSN bool                       // no --dsn
	code  int
	want  []string // what the message must name; {db} is the database's name, {dialect} its dialect
	hint  string   // what it must say to do
	hide  string   // what must never be printed
}

// Migration files that the cases add to the shop's.
const (
	addNote  = "ALTER TABLE customers ADD COLUMN note VARCHAR(100);\n"
	fillName = "given_name = name\n"
)

// brokenContract is a second contract file that fails; brokenV2 ran it.
var brokenContract = map[string]string{"2.0_contract02_broken.sql": "UPDATE no_such_table SET x = 1;\n"}

func badInputs() []badInput {
	return []badInput{
		// Migration files: names.
		{name: "file-without-phase", what: "a migration file name without a phase", state: atV1,
			files: map[string]string{"2.0_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_add_note.sql", `unknown phase "add"`}, hint: "files are named <release>_<phase><NN>_<slug>"},
		{name: "file-phase-typo", what: "a misspelt phase", state: atV1,
			files: map[string]string{"2.0_expnad03_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expnad03_add_note.sql", `unknown phase "expnad"`}, hint: "files are named <release>_<phase><NN>_<slug>"},
		{name: "file-phase-capitalised", what: "a phase in capitals", state: atV1,
			files: map[string]string{"2.0_Expand03_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_Expand03_add_note.sql", `unknown phase "Expand"`}, hint: "files are named"},
		{name: "file-bad-release", what: "a release in a file name that is not a version", state: atV1,
			files: map[string]string{"2.x_expand01_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.x_expand01_add_note.sql", `release "2.x": minor component "x" is not a number`}, hint: "files are named"},
		{name: "file-one-digit-number", what: "a sequence number of one digit", state: atV1,
			files: map[string]string{"2.0_expand3_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand3_add_note.sql", `sequence number "3" needs at least two digits; write 03`}, hint: "NN counting 01, 02"},
		{name: "file-without-slug", what: "a file name that stops after the id", state: atV1,
			files: map[string]string{"2.0_expand03.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03.sql", "missing or malformed slug after 2.0_expand03"}, hint: "want 2.0_expand03_<words>"},
		{name: "file-bad-slug", what: "a slug with a character outside letters, digits, _ and -", state: atV1,
			files: map[string]string{"2.0_expand03_add%note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03_add%note.sql", "missing or malformed slug"}, hint: "letters, digits, '_' and '-'"},
		{name: "file-baseline-with-slug", what: "a baseline file with a slug", state: atV1,
			files: map[string]string{"1.0_baseline_schema.sql": "SELECT 1;\n"}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"1.0_baseline_schema.sql", "a baseline is named <release>_baseline[.<dialect>].sql, without a slug"}, hint: "files are named"},
		{name: "file-duplicate-id", what: "two files with one id and different slugs", state: atV1,
			files: map[string]string{"2.0_expand01_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"duplicate id 2.0_expand01", "2.0_expand01_add_note.sql has it too"}, hint: "files are named"},
		{name: "file-variant-other-slug", what: "a dialect variant whose slug differs from the plain file's", state: atV1,
			files: map[string]string{"2.0_expand01_add_names.mysql.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand01_split_name.sql", "id 2.0_expand01 is used by", "with another name"}, hint: "dialect variants must share the name and differ only in the suffix"},
		{name: "file-duplicate-id-spelling", what: "one id spelt twice (2.0 and 2.0.0)", state: atV1,
			files: map[string]string{"2.0.0_expand01_split_name.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"duplicate id 2.0_expand01", "2.0.0_expand01_split_name.sql"}, hint: "files are named"},
		{name: "file-numbering-gap", what: "a gap in the numbering (04 after 02)", state: atV1,
			files: map[string]string{"2.0_expand04_add_note.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand04_add_note.sql", "numbering gap: 2.0_expand04 follows 2.0_expand02; expected 2.0_expand03"}, hint: "NN counting 01, 02"},
		{name: "file-numbering-from-two", what: "a phase whose numbering starts at 02", state: expandedV2,
			files: map[string]string{"2.0_migrate02_fill.sql": "UPDATE customers SET email = email;\n"}, args: []string{"migrate", "--release", "2.0"},
			code: 1, want: []string{"numbering gap: 2.0_migrate02 follows nothing; expected 2.0_migrate01"}, hint: "NN counting 01, 02"},
		{name: "file-unknown-dialect", what: "an unknown dialect suffix", state: atV1,
			files: map[string]string{"2.0_expand03_add_note.oracle.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03_add_note.oracle.sql", `unknown dialect suffix "oracle" (want postgres, mysql or sqlite)`}, hint: "[.postgres|.mysql|.sqlite].sql"},
		{name: "file-abbreviated-dialect", what: "a dialect suffix abbreviated (.pg)", state: atV1,
			files: map[string]string{"2.0_expand03_add_note.pg.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{`unknown dialect suffix "pg"`}, hint: "[.postgres|.mysql|.sqlite].sql"},
		{name: "file-missing-for-dialect", what: "a migration with a file for MySQL only, run elsewhere", state: atV1, on: []dialect.Name{dialect.SQLite, dialect.Postgres},
			files: map[string]string{"2.0_expand03_add_note.mysql.sql": addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03_add_note.mysql.sql: no file serves"}, hint: "nothing was applied"},

		// Migration files: content. Each is the third file of the expand
		// (or the migrate): the first two, good, must not run either.
		{name: "sql-unterminated-string", what: "an unterminated string literal in a SQL file", state: atV1,
			files: map[string]string{"2.0_expand03_add_note.sql": "ALTER TABLE customers ADD COLUMN note VARCHAR(100) DEFAULT 'none;\n"}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03_add_note.sql", "line 1: unterminated string literal"}, hint: "nothing was applied"},
		{name: "sql-unterminated-dollar-quote", what: "an unterminated dollar quote in a PostgreSQL file", state: atV1, on: []dialect.Name{dialect.Postgres},
			files: map[string]string{"2.0_expand03_fn.postgres.sql": "CREATE FUNCTION note() RETURNS int AS $body$ SELECT 1;\n", "2.0_expand03_fn.sql": "SELECT 1;\n"},
			args:  []string{"expand", "--release", "2.0"},
			code:  1, want: []string{"2.0_expand03_fn.postgres.sql", "unterminated dollar-quoted string $body$"}, hint: "nothing was applied"},
		{name: "sql-unterminated-comment", what: "an unterminated block comment", state: atV1,
			files: map[string]string{"2.0_expand03_add_note.sql": "/* adds the note\n" + addNote}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03_add_note.sql", "unterminated"}, hint: "nothing was applied"},
		{name: "backfill-without-table", what: "a backfill annotation that names no table", state: expandedV2,
			files: map[string]string{"2.0_migrate01_fill_names.sql": "-- tandem:backfill\n" + fillName}, args: []string{"migrate", "--release", "2.0"},
			code: 1, want: []string{"2.0_migrate01_fill_names.sql", "a backfill file names its table (-- tandem:backfill customers)"}, hint: "nothing was applied"},
		{name: "backfill-two-statements", what: "a backfill file with two statements", state: expandedV2,
			files: map[string]string{"2.0_migrate01_fill_names.sql": "-- tandem:backfill customers\ngiven_name = name;\nfamily_name = name;\n"}, args: []string{"migrate", "--release", "2.0"},
			code: 1, want: []string{"2.0_migrate01_fill_names.sql", "holds one SET list"}, hint: "nothing was applied"},
		{name: "backfill-annotation-typo", what: "a misspelt annotation (tandem:backfil)", state: expandedV2,
			files: map[string]string{"2.0_migrate01_fill_names.sql": "-- tandem:backfil customers\n" + fillName}, args: []string{"migrate", "--release", "2.0"},
			code: 1, want: []string{"2.0_migrate01_fill_names.sql", "unknown annotation '-- tandem:backfil' (known: backfill, no-transaction)"}, hint: "nothing was applied"},
		{name: "backfill-on-expand-file", what: "a backfill annotation on an expand file", state: atV1,
			files: map[string]string{"2.0_expand03_fill_names.sql": "-- tandem:backfill customers\n" + fillName}, args: []string{"expand", "--release", "2.0"},
			code: 1, want: []string{"2.0_expand03_fill_names.sql", "'-- tandem:backfill' belongs on a migrate file"}, hint: "nothing was applied"},
		{name: "edited-applied-migration", what: "an applied migration edited since it ran", state: expandedV2,
			files: map[string]string{"2.0_expand01_split_name.sql": "ALTER TABLE customers ADD COLUMN given_name VARCHAR(120);\nALTER TABLE customers ADD COLUMN family_name VARCHAR(100);\n"},
			args:  []string{"migrate", "--release", "2.0"},
			code:  1, want: []string{"1 applied migration(s) changed since they ran", "2.0_expand01 (2.0_expand01_split_name.sql): recorded sha256:"}, hint: "restore the file, or run 'tandem repair'"},
		{name: "dir-missing", what: "a migration directory that does not exist", state: atV1,
			args: []string{"expand", "--dir", "/nonexistent/migrations"},
			code: 2, want: []string{`migration directory "/nonexistent/migrations" not found`}, hint: "pass --dir with the directory of your .sql files"},

		// Releases.
		{name: "release-not-a-version", what: "--release 2.x", state: atV1, args: []string{"expand", "--release", "2.x"},
			code: 2, want: []string{`invalid version "2.x": minor component "x" is not a number`}, hint: "want MAJOR.MINOR[.PATCH]"},
		{name: "release-out-of-range", what: "--release 70000.0", state: atV1, args: []string{"expand", "--release", "70000.0"},
			code: 2, want: []string{"major component 70000 is out of range 0..65535"}, hint: "want MAJOR.MINOR[.PATCH]"},
		{name: "release-negative", what: "--release -1.0", state: atV1, args: []string{"migrate", "--release", "-1.0"},
			code: 2, want: []string{`invalid version "-1.0": major component "-1" is not a number`}, hint: "want MAJOR.MINOR[.PATCH]"},
		{name: "release-v-prefix", what: "--release v2.0", state: atV1, args: []string{"check", "--release", "v2.0"},
			code: 2, want: []string{`invalid version "v2.0"`}, hint: `drop it and write "2.0"`},
		{name: "release-unknown", what: "a release no migration names", state: atV1, args: []string{"expand", "--release", "3.0"},
			code: 1, want: []string{"release 3.0 is unknown", "known: [1.0 2.0]"}, hint: "check --release and --dir"},
		{name: "release-unknown-coverage", what: "coverage of a release no migration names", state: migratedV2, args: []string{"coverage", "--release", "2.1"},
			code: 1, want: []string{"release 2.1 is unknown"}, hint: "check --release and --dir"},

		// Connection strings.
		{name: "dsn-none", what: "no --dsn, TANDEM_DSN nor DATABASE_URL", state: noDB, noDSN: true, args: []string{"status"},
			code: 2, want: []string{"no database given"}, hint: "pass --dsn, or set TANDEM_DSN or DATABASE_URL"},
		{name: "dsn-unknown-scheme", what: "a DSN with an unknown scheme", state: noDB, args: []string{"status", "--dsn", "oracle://scott:" + badPassword + "@db:1521/orcl"},
			code: 2, want: []string{`unsupported scheme "oracle"`, "oracle://scott:xxxxx@db:1521/orcl"}, hint: "use one of postgres://", hide: badPassword},
		{name: "dsn-garbage", what: "a DSN that is no connection string", state: noDB, args: []string{"status", "--dsn", "the production database"},
			code: 2, want: []string{`"the production database": not a connection string tandem recognises`}, hint: "use one of postgres://"},
		{name: "dsn-refused-postgres", what: "a PostgreSQL port nobody listens on", state: noDB, args: []string{"status", "--dsn", "postgres://app:" + badPassword + "@127.0.0.1:1/app?sslmode=disable"},
			code: 1, want: []string{"open postgres database postgres://app:xxxxx@127.0.0.1:1/app", "connection refused"}, hint: "is the PostgreSQL server running and reachable?", hide: badPassword},
		{name: "dsn-refused-mysql", what: "a MySQL port nobody listens on", state: noDB, args: []string{"status", "--dsn", "mysql://app:" + badPassword + "@127.0.0.1:1/app"},
			code: 1, want: []string{"open mysql database app:xxxxx@tcp(127.0.0.1:1)/app", "connection refused"}, hint: "is the MySQL/MariaDB server running and reachable?", hide: badPassword},
		{name: "dsn-silent-postgres", what: "a PostgreSQL server that accepts connections and never answers", state: noDB,
			args: []string{"status", "--connect-timeout", "1s", "--dsn", "postgres://root@127.0.0.1:{silent}/app?sslmode=disable"},
			code: 1, want: []string{"no answer from the database server within 1s (--connect-timeout)", "open postgres database"}, hint: "is the PostgreSQL server running and reachable?"},
		{name: "dsn-silent-mysql", what: "a MySQL server that accepts connections and never answers", state: noDB,
			args: []string{"status", "--connect-timeout", "1s", "--dsn", "mysql://root@127.0.0.1:{silent}/app"},
			code: 1, want: []string{"no answer from the database server within 1s (--connect-timeout)", "open mysql database"}, hint: "is the MySQL/MariaDB server running and reachable?"},
		{name: "dsn-wrong-password", what: "a wrong MariaDB password", state: atV1, on: []dialect.Name{dialect.MySQL},
			dsn: func(db *dbtest.DB) string {
				return strings.Replace(db.DSN, "root:@", "root:"+badPassword+"@", 1)
			},
			dsnAs: "root:" + badPassword + "@tcp(127.0.0.1:3306)/DB",
			args:  []string{"expand", "--release", "2.0"},
			code:  1, want: []string{"Access denied for user 'root'", "root:xxxxx@tcp("}, hint: "check host, port, user, password and database name", hide: badPassword},
		{name: "dsn-parsetime-false", what: "a MySQL DSN with parseTime=false", state: atV1, on: []dialect.Name{dialect.MySQL},
			dsn:   func(db *dbtest.DB) string { return strings.Replace(db.DSN, "parseTime=true", "parseTime=false", 1) },
			dsnAs: "root:@tcp(127.0.0.1:3306)/DB?parseTime=false",
			args:  []string{"expand", "--release", "2.0"},
			code:  2, want: []string{"parseTime must be true"}, hint: "remove parseTime=false or set parseTime=true"},
		{name: "dsn-no-such-database", what: "a database that does not exist on the server", state: atV1, on: []dialect.Name{dialect.Postgres, dialect.MySQL},
			dsn: func(db *dbtest.DB) string {
				tg, err := dialect.ParseDSN(db.DSN)
				if err == nil {
					tg, err = tg.WithDatabase(db.Name + "_missing")
				}
				if err != nil {
					panic(err)
				}
				return tg.DSN
			},
			dsnAs: "postgres://root@127.0.0.1:5432/DB_missing?sslmode=disable, root:@tcp(127.0.0.1:3306)/DB_missing",
			args:  []string{"expand", "--release", "2.0"},
			code:  1, want: []string{"open {dialect} database", "{db}_missing"}, hint: "check host, port, user, password and database name"},

		// Flags and arguments.
		{name: "command-typo", what: "a misspelt command", state: noDB, noDSN: true, args: []string{"expnad", "--release", "2.0"},
			code: 2, want: []string{`unknown command "expnad"`}, hint: `Did you mean "expand"?`},
		{name: "flag-unknown", what: "a misspelt flag", state: atV1, args: []string{"expand", "--relase", "2.0"},
			code: 2, want: []string{"flag provided but not defined: -relase"}, hint: "Run 'tandem help expand' for usage."},
		{name: "flag-release-as-argument", what: "the release given without --release", state: atV1, args: []string{"expand", "2.0"},
			code: 2, want: []string{`unexpected argument "2.0"`}, hint: "Run 'tandem help expand' for usage."},
		{name: "flag-bad-duration", what: "--lock-timeout banana", state: atV1, args: []string{"expand", "--lock-timeout", "banana"},
			code: 2, want: []string{`invalid value "banana" for flag -lock-timeout`}, hint: "Run 'tandem help expand' for usage."},
		{name: "flag-negative-duration", what: "--lock-timeout -1s", state: expandedV2, args: []string{"migrate", "--release", "2.0", "--lock-timeout", "-1s"},
			code: 2, want: []string{"--lock-timeout -1s: want a duration of 0 or more"}, hint: "e.g. --lock-timeout 30s"},
		{name: "flag-negative-batch", what: "--batch-size -5", state: expandedV2, args: []string{"migrate", "--release", "2.0", "--batch-size", "-5"},
			code: 2, want: []string{"--batch-size -5: want 0 or more"}, hint: "Run 'tandem help migrate' for usage."},
		{name: "flag-redo-limit-out-of-range", what: "--redo-limit 1.5", state: expandedV2, args: []string{"migrate", "--release", "2.0", "--redo-limit", "1.5"},
			code: 2, want: []string{"--redo-limit 1.5: want a share of InnoDB's redo from 0.2 to 0.9"}, hint: "Run 'tandem help migrate' for usage."},
		{name: "flag-redo-limit-word", what: "--redo-limit always", state: expandedV2, args: []string{"migrate", "--release", "2.0", "--redo-limit", "always"},
			code: 2, want: []string{"--redo-limit always: want a share of InnoDB's redo from 0.2 to 0.9, e.g. 0.5, or auto (the default) or off"}, hint: "Run 'tandem help migrate' for usage."},
		{name: "flag-duty-out-of-range", what: "--duty 2", state: expandedV2, args: []string{"migrate", "--release", "2.0", "--duty", "2"},
			code: 2, want: []string{"--duty 2: want the share of the time the backfill works, from 0.1 to 0.9, e.g. 0.5, or auto (the default) or off"}, hint: "Run 'tandem help migrate' for usage."},
		{name: "flag-redo-limit-negative", what: "--redo-limit -1", state: expandedV2, args: []string{"migrate", "--release", "2.0", "--redo-limit", "-1"},
			code: 2, want: []string{"--redo-limit -1: want a share of InnoDB's redo from 0.2 to 0.9"}, hint: "Run 'tandem help migrate' for usage."},
		{name: "flag-set-without-release", what: "flag set without --release", state: migratedV2, args: []string{"flag", "set", "contract-ready"},
			code: 2, want: []string{"--release is required"}, hint: "e.g. tandem flag set --release 2.0 contract-ready"},
		{name: "flag-set-bad-state", what: "flag set to a state that is not a flag", state: migratedV2, args: []string{"flag", "set", "contracted", "--release", "2.0"},
			code: 2, want: []string{`state "contracted"`}, hint: "want contract-ready (the ready-for-contract flag) or migrating (flip back)"},
		{name: "flag-set-no-state", what: "flag set with no state", state: migratedV2, args: []string{"flag", "set", "--release", "2.0"},
			code: 2, want: []string{"want 'flag show' or 'flag set --release R contract-ready|migrating'"}, hint: "Run 'tandem help flag' for usage."},
		{name: "coverage-without-release", what: "coverage without --release", state: migratedV2, args: []string{"coverage"},
			code: 2, want: []string{"--release is required: the release the rows should be at"}, hint: "Run 'tandem help coverage' for usage."},
		{name: "coverage-fail-under-150", what: "--fail-under 150", state: migratedV2, args: []string{"coverage", "--release", "2.0", "--fail-under", "150"},
			code: 2, want: []string{"--fail-under 150: want a percent from 0 to 100"}, hint: "Run 'tandem help coverage' for usage."},
		{name: "baseline-without-release", what: "baseline without --release", state: atV1, args: []string{"baseline", "--yes"},
			code: 2, want: []string{"--release is required: the release the existing database is at"}, hint: "Run 'tandem help baseline' for usage."},
		{name: "repair-without-yes", what: "repair without --yes on a stdin that is not a terminal", state: expandedV2, args: []string{"repair"},
			code: 2, want: []string{"confirm at the prompt"}, hint: "pass --yes when stdin is not a terminal"},

		// The protocol, out of order or unsafe.
		{name: "migrate-before-expand", what: "migrate while the expand is pending", state: atV1, args: []string{"migrate", "--release", "2.0"},
			code: 3, want: []string{"migrate of 2.0 refused: expand pending (2.0_expand01, 2.0_expand02)"}, hint: "run 'tandem expand --release 2.0' first"},
		{name: "contract-before-expand", what: "contract while the expand is pending", state: atV1, args: []string{"contract", "--release", "2.0", "--yes"},
			code: 7, want: []string{"contract of 2.0 refused (4 reason(s))", "expand pending: 2.0_expand01, 2.0_expand02", "the ready-for-contract flag is not set", "table customers has 3 row(s) stamped below 2.0"}, hint: "next: tandem expand --release 2.0"},
		{name: "contract-before-migrate", what: "contract while rows are still at 1.0", state: expandedV2, args: []string{"contract", "--release", "2.0", "--yes"},
			code: 7, want: []string{"contract of 2.0 refused", "table customers has 3 row(s) stamped below 2.0", "table parcels has 2 row(s) stamped below 2.0"}, hint: "next: tandem migrate --release 2.0"},
		{name: "contract-without-flag", what: "contract before the ready-for-contract flag", state: migratedV2, args: []string{"contract", "--release", "2.0", "--yes"},
			code: 7, want: []string{"release 2.0 is expanded: the ready-for-contract flag is not set"}, hint: "next: tandem flag set --release 2.0 contract-ready"},
		{name: "contract-without-yes", what: "contract without --yes on a stdin that is not a terminal", state: readyV2, args: []string{"contract", "--release", "2.0"},
			code: 2, want: []string{"contract is destructive"}, hint: "pass --yes when stdin is not a terminal"},
		{name: "flag-before-expand", what: "the flag set before the release is expanded", state: atV1, args: []string{"flag", "set", "contract-ready", "--release", "2.0"},
			code: 7, want: []string{"the ready-for-contract flag of 2.0 cannot be set", "its expand is not applied"}, hint: "run 'tandem expand --release 2.0'"},
		{name: "flag-old-instance-live", what: "the flag set while a 1.0 instance is live", state: oldLiveV2, args: []string{"flag", "set", "contract-ready", "--release", "2.0"},
			code: 7, want: []string{"instance " + liveOldID + " (pid 4242 on web-1) still runs release 1.0"}, hint: "stop it, or if it is dead run 'tandem instances forget " + liveOldID + "'"},
		{name: "expand-two-releases-ahead", what: "expand of 3.0 while a 1.0 instance is live", state: oldLiveV2,
			files: map[string]string{"3.0_expand01_add_note.sql": addNote}, args: []string{"expand", "--release", "3.0"},
			code: 7, want: []string{"the expand of 3.0 cannot begin: live instances run a release below 2.0", "instance " + liveOldID + " (pid 4242 on web-1) runs release 1.0"}, hint: "roll out 2.0 everywhere first"},
		{name: "flag-back-after-contract-began", what: "the flag flipped back after a contract dropped columns and then failed", state: brokenV2,
			files: brokenContract, args: []string{"flag", "set", "migrating", "--release", "2.0"},
			code: 7, want: []string{"2.0 cannot be flipped back to migrating", "its contract has begun: 2.0_contract01 applied or partly applied", "the columns it dropped are gone"}, hint: "fix forward, or finish with 'tandem contract --release 2.0'"},
		{name: "flag-contracted-release", what: "the flag of a release already contracted", state: atV1, args: []string{"flag", "set", "contract-ready", "--release", "1.0"},
			code: 7, want: []string{`release 1.0 cannot go from "contracted" to "contract-ready"`}, hint: "restore archived columns to go back"},
		{name: "baseline-managed-database", what: "baseline on a database tandem already manages", state: atV1, args: []string{"baseline", "--release", "1.0", "--yes"},
			code: 1, want: []string{"database already has a migration history", "the first 1.0_baseline"}, hint: "use 'tandem status' to see where this one is"},
		{name: "forget-unknown-instance", what: "forget an instance that is not registered", state: migratedV2, args: []string{"instances", "forget", "web-9-no-such"},
			code: 1, want: []string{`no such instance: "web-9-no-such"`}, hint: "'tandem instances' lists them"},
		{name: "forget-live-instance", what: "forget an instance whose heartbeat is current", state: oldLiveV2, args: []string{"instances", "forget", liveOldID},
			code: 1, want: []string{"instance " + liveOldID + " is live"}, hint: "stop the process first, or pass --force"},

		// Files tandem writes.
		{name: "plan-write-into-file", what: "plan --write naming an existing file", state: expandedV2,
			files: map[string]string{"2.0_contract01_drop_old_columns.sql": ""}, args: []string{"plan", "--release", "2.0", "--write", "{file}"},
			code: 2, want: []string{"--write", "is a file, not a directory"}, hint: "pass the directory to write the generated files into"},
		{name: "plan-write-over-file", what: "plan --write into a directory that holds a file it would write", state: expandedV2,
			files: map[string]string{"2.0_contract01_drop_old_columns.sql": ""}, args: []string{"plan", "--release", "2.0", "--write", "{gen}"},
			code: 1, want: []string{"file already exists: 2.0_contract01_drop_customers_columns.postgres.sql", "nothing was written"}, hint: "review and move the earlier files, or write into an empty directory"},
		{name: "backup-over-file", what: "backup --out naming an existing file", state: atV1, args: []string{"backup", "--out", "{file}"},
			code: 1, want: []string{"refusing to overwrite an existing file"}, hint: "choose another file name or move the old backup away"},
		{name: "expand-backup-over-file", what: "expand --backup naming an existing file", state: atV1, args: []string{"expand", "--release", "2.0", "--backup", "{file}"},
			code: 1, want: []string{"backup before changing the database failed, so nothing was changed", "refusing to overwrite an existing file"}, hint: "choose another file name"},
	}
}

// TestBadInput runs every bad input through the CLI on every dialect and
// checks the exit code, the message and its hint, and that nothing changed:
// the database, the existing files named, and what was printed (no password).
func TestBadInput(t *testing.T) {
	for _, env := range []string{"TANDEM_DSN", "DATABASE_URL", "TANDEM_DIR"} {
		t.Setenv(env, "")
	}
	cases := badInputs()
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		if len(c.want) == 0 || c.hint == "" {
			t.Fatalf("case %s: every bad input names what is wrong and says what to do", c.name)
		}
		names[c.name] = true
	}
	silent := silentServer(t)
	t.Run("no-database", func(t *testing.T) {
		for _, c := range cases {
			if c.state == noDB {
				t.Run(c.name, func(t *testing.T) { runBadInput(t, c, nil, silent) })
			}
		}
	})
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			var mine []badInput
			var need []badState
			for _, c := range cases {
				if c.state != noDB && (c.on == nil || slices.Contains(c.on, d)) {
					mine = append(mine, c)
					need = append(need, c.state)
				}
			}
			states := newShopStates(t, d, need)
			for _, c := range mine {
				t.Run(c.name, func(t *testing.T) { runBadInput(t, c, states[c.state], silent) })
			}
		})
	}
}

func runBadInput(t *testing.T, c badInput, db *dbtest.DB, silentPort int) {
	work := t.TempDir()
	file := filepath.Join(work, "existing.dump")
	gen := filepath.Join(work, "generated")
	genFile := filepath.Join(gen, "2.0_contract01_drop_customers_columns.postgres.sql")
	if err := os.MkdirAll(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{file, genFile} {
		if err := os.WriteFile(f, []byte(precious), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := make([]string, 0, len(c.args)+4)
	for _, a := range c.args {
		a = strings.NewReplacer("{file}", file, "{gen}", gen, "{silent}", strconv.Itoa(silentPort)).Replace(a)
		args = append(args, a)
	}
	if c.files != nil {
		args = append(args, "--dir", shopDir(t, c.files))
	}
	if db != nil && !c.noDSN {
		dsn := db.DSN
		if c.dsn != nil {
			dsn = c.dsn(db)
		}
		args = append(args, "--dsn", dsn)
	}

	var before string
	if db != nil {
		before = dbState(t, db)
	}
	r := shopCLI(context.Background(), args...)
	printed := r.out + r.err
	if r.code != c.code {
		t.Errorf("tandem %s exited %d, want %d", strings.Join(args, " "), r.code, c.code)
	}
	for _, w := range append(slices.Clone(c.want), c.hint) {
		if db != nil {
			w = strings.NewReplacer("{db}", db.Name, "{dialect}", string(db.Dialect)).Replace(w)
		}
		if !strings.Contains(printed, w) {
			t.Errorf("the output lacks %q", w)
		}
	}
	if c.hide != "" && strings.Contains(printed, c.hide) {
		t.Errorf("the output carries the password %q", c.hide)
	}
	if t.Failed() {
		t.Logf("tandem %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.out, r.err)
	}
	for _, f := range []string{file, genFile} {
		if b, err := os.ReadFile(f); err != nil || string(b) != precious {
			t.Errorf("the existing file %s was changed: %q, %v", f, b, err)
		}
	}
	if db != nil {
		if after := dbState(t, db); after != before {
			t.Errorf("the database changed:\n%s", lineDiff(before, after))
		}
	}
}

// shopCLI runs the shop's own tandem binary (examples/shop/shop-tandem):
// the stock commands with the shop's migrations built in and its models.
func shopCLI(ctx context.Context, args ...string) result {
	var out, errb bytes.Buffer
	code := cli.Main(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		cli.WithMigrations(shop.Migrations()), cli.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}))
	return result{code, out.String(), errb.String()}
}

// shopDir writes the shop's migration files, with edit applied ("" removes
// a file), into a fresh directory.
func shopDir(t testing.TB, edit map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(shop.Migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(shop.Migrations(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range edit {
		p := filepath.Join(dir, name)
		if body == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newShopStates builds each of the states, once, for the test t.
func newShopStates(t *testing.T, d dialect.Name, states []badState) map[badState]*dbtest.DB {
	t.Helper()
	out := map[badState]*dbtest.DB{}
	for _, st := range states {
		if out[st] == nil {
			out[st] = dbtest.New(t, d)
			prepareShop(t, out[st], st)
		}
	}
	return out
}

// prepareShop brings a fresh database to state st through the CLI, as an
// operator would.
func prepareShop(t testing.TB, db *dbtest.DB, st badState) {
	t.Helper()
	step := func(args ...string) {
		t.Helper()
		if r := shopCLI(context.Background(), append(args, "--dsn", db.DSN)...); r.code != 0 {
			t.Fatalf("prepare %q: tandem %v exited %d\n%s%s", st, args, r.code, r.out, r.err)
		}
	}
	step("expand", "--release", "1.0")
	v1 := shop.V1.Stamp()
	for _, name := range []string{"Ada Lovelace", "Alan Turing", "Grace Hopper"} {
		db.Exec(t, "INSERT INTO customers (name, email, obj_version) VALUES (?, ?, ?)", name, strings.ToLower(strings.Fields(name)[0])+"@example.com", v1)
	}
	db.Exec(t, "INSERT INTO parcels (customer_id, weight_lb, obj_version) VALUES (1, 10, ?), (2, 3, ?)", v1, v1)
	if st == atV1 {
		return
	}
	step("expand", "--release", "2.0")
	// A 2.0 instance starts and stops: it registers the 2.0 models.
	p := compat.New(shop.V2, compat.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}), compat.WithoutListen())
	if err := db.Open(t).Use(p); err != nil {
		t.Fatalf("prepare %q: start a 2.0 instance: %v", st, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st == expandedV2 {
		return
	}
	step("migrate", "--release", "2.0")
	switch st {
	case readyV2:
		step("flag", "set", "contract-ready", "--release", "2.0")
	case brokenV2:
		step("flag", "set", "contract-ready", "--release", "2.0")
		args := []string{"contract", "--release", "2.0", "--yes", "--dir", shopDir(t, brokenContract), "--dsn", db.DSN}
		if r := shopCLI(context.Background(), args...); r.code != 1 || !strings.Contains(r.err, "2.0_contract02 (2.0_contract02_broken.sql") {
			t.Fatalf("prepare %q: tandem %v exited %d, want 1 (2.0_contract02 failed)\n%s%s", st, args, r.code, r.out, r.err)
		}
	case oldLiveV2:
		now := store.Now()
		in := store.Instance{ID: liveOldID, Host: "web-1", PID: 4242, Release: "1.0", ReleaseStamp: shop.V1.Stamp(),
			StartedAt: now.Add(-time.Hour), HeartbeatAt: now, ExpiresAt: now.Add(24 * time.Hour), SeenState: "contracted", Mode: "L(c)"}
		if err := store.SaveInstance(context.Background(), db.Gorm, &in); err != nil {
			t.Fatal(err)
		}
	}
}

// dbState describes everything in the database: each table with its
// columns and their types, the indexes, constraints and triggers, and every
// row of every table. Two equal states mean nothing changed.
func dbState(t testing.TB, db *dbtest.DB) string {
	t.Helper()
	var catalog []string
	switch db.Dialect {
	case dialect.Postgres:
		catalog = []string{
			"SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = current_schema()",
			"SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()",
			"SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
			"SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal",
			"SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace",
		}
	case dialect.MySQL:
		catalog = []string{
			"SELECT CONCAT(table_name, '.', column_name, ' ', column_type, ' ', is_nullable, ' ', COALESCE(column_default, '')) FROM information_schema.columns WHERE table_schema = DATABASE()",
			"SELECT CONCAT('index ', table_name, ' ', index_name, ' ', seq_in_index, ' ', column_name) FROM information_schema.statistics WHERE table_schema = DATABASE()",
			"SELECT CONCAT('constraint ', table_name, ' ', constraint_name, ' ', constraint_type) FROM information_schema.table_constraints WHERE table_schema = DATABASE()",
			"SELECT CONCAT('trigger ', event_object_table, ' ', trigger_name) FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
		}
	default:
		catalog = []string{"SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master"}
	}
	var lines []string
	for _, q := range catalog {
		lines = append(lines, queryStrings(t, db.Gorm, q)...)
	}
	for _, table := range db.Tables(t) {
		for _, row := range tableRows(t, db, table) {
			lines = append(lines, "row "+table+" "+row)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func queryStrings(t testing.TB, g *gorm.DB, q string) []string {
	t.Helper()
	var out []string
	if err := g.Raw(q).Scan(&out).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// tableRows returns every row of table as text.
func tableRows(t testing.TB, db *dbtest.DB, table string) []string {
	t.Helper()
	rows, err := db.Gorm.Raw("SELECT * FROM " + dialect.QuoteIdent(db.Dialect, table)).Rows()
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts[i] = fmt.Sprintf("%s=%v", cols[i], v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range as {
		if !slices.Contains(bs, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bs {
		if !slices.Contains(as, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// silentServer listens on a local port, accepts every connection and never
// answers: a database server that hangs. It returns the port.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBadInputServerGoneMidRun: the connection of a runner is killed from
// another session while a slow migration runs (the server going down under
// it). The run fails with a clear error naming the migration, and a rerun
// converges: every migration applied exactly once, the lock free.
func TestBadInputServerGoneMidRun(t *testing.T) {
	for _, d := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			db := dbtest.New(t, d)
			prepareShop(t, db, atV1)
			db.Exec(t, "CREATE TABLE slow_ctl (secs INT NOT NULL)")
			db.Exec(t, "INSERT INTO slow_ctl (secs) VALUES (600)")
			dir := shopDir(t, map[string]string{
				"2.0_expand03_slow.postgres.sql": "SELECT pg_sleep((SELECT secs FROM slow_ctl));\n",
				"2.0_expand03_slow.mysql.sql":    "SELECT SLEEP((SELECT secs FROM slow_ctl));\n",
				"2.0_expand03_slow.sql":          "SELECT 1;\n",
			})
			args := []string{"expand", "--release", "2.0", "--dir", dir, "--dsn", db.DSN}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a backstop, not an assertion
			defer cancel()
			res := make(chan result, 1)
			go func() { res <- shopCLI(ctx, args...) }()

			// Wait until the slow statement runs, then kill its session.
			find := "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'SELECT pg_sleep(%'"
			kill := "SELECT pg_terminate_backend(?)"
			if d == dialect.MySQL {
				find = "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE 'SELECT SLEEP(%'"
				kill = "KILL ?"
			}
			admin := db.Open(t)
			for killed := false; !killed; {
				var ids []int64
				if err := admin.Raw(find).Scan(&ids).Error; err != nil {
					t.Fatal(err)
				}
				for _, id := range ids {
					if err := admin.Exec(kill, id).Error; err != nil {
						t.Fatalf("kill the runner's session %d: %v", id, err)
					}
					killed = true
				}
				if !killed {
					select {
					case r := <-res:
						t.Fatalf("the run ended before its session was killed: %+v", r)
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
			r := <-res
			if r.code != 1 || !strings.Contains(r.err, "migrations: 2.0_expand03 (2.0_expand03_slow."+string(d)+".sql:1), statement 1 failed") ||
				!strings.Contains(r.err, "hint: the connection to the database was lost") || !strings.Contains(r.err, "when the server answers again, run the same command again") {
				t.Fatalf("the run whose session was killed: exit %d, want 1 and the failed migration named with a hint\n%s%s", r.code, r.out, r.err)
			}
			t.Logf("the killed run said:\n%s", r.err)

			// The operator fixes nothing but the server; the rerun converges.
			db.Exec(t, "UPDATE slow_ctl SET secs = 0")
			if r := shopCLI(context.Background(), append(args, "--lock-timeout", "0s")...); r.code != 0 {
				t.Fatalf("rerun after the session was killed: exit %d\n%s%s", r.code, r.out, r.err)
			}
			rows, err := store.History(context.Background(), db.Gorm)
			if err != nil {
				t.Fatal(err)
			}
			var applied []string
			for _, row := range rows {
				if row.Status != store.StatusApplied {
					t.Errorf("history row %s is %s after the rerun", row.ID, row.Status)
				}
				applied = append(applied, row.ID)
			}
			sort.Strings(applied)
			if want := []string{"1.0_baseline", "2.0_expand01", "2.0_expand02", "2.0_expand03"}; !slices.Equal(applied, want) {
				t.Errorf("history after the rerun = %v, want each of %v once", applied, want)
			}
			if got := strings.Join(db.Columns(t, "customers"), ","); got != "email,family_name,given_name,id,name,obj_version" {
				t.Errorf("customers columns after the rerun: %s", got)
			}
			if r := shopCLI(context.Background(), "check", "--release", "2.0", "--dir", dir, "--dsn", db.DSN); r.code != 4 {
				t.Errorf("check after the rerun: exit %d, want 4 (migrate pending)\n%s%s", r.code, r.out, r.err)
			}
		})
	}
}

// Models with bad tandem tags: library input, checked by model.SpecOf and
// by the compat plugin's Initialize.
type (
	tagUnknownKey struct {
		ID   uint
		Name string `tandem:"removed=2.0"`
		model.Stamp
	}
	tagEmpty struct {
		ID   uint
		Name string `tandem:""`
		model.Stamp
	}
	tagNoRelease struct {
		ID   uint
		Name string `tandem:"deprecated"`
		model.Stamp
	}
	tagBadVersion struct {
		ID   uint
		Name *string `tandem:"added=2.x"`
		model.Stamp
	}
	tagVersionOutOfRange struct {
		ID   uint
		Name *string `tandem:"added=70000.0"`
		model.Stamp
	}
	tagZeroRelease struct {
		ID   uint
		Name *string `tandem:"added=0.0"`
		model.Stamp
	}
	tagKeyTwice struct {
		ID   uint
		Name *string `tandem:"added=2.0,added=3.0"`
		model.Stamp
	}
	tagDeprecatedBeforeAdded struct {
		ID   uint
		Name *string `tandem:"added=3.0,deprecated=2.0"`
		model.Stamp
	}
	tagOnPrimaryKey struct {
		ID   uint `gorm:"primaryKey" tandem:"added=2.0"`
		Name string
		model.Stamp
	}
	tagWithoutStamp struct {
		ID   uint
		Name string `tandem:"deprecated=2.0"`
	}
	tagAddedNotNull struct {
		ID    uint
		Email string `gorm:"not null" tandem:"added=2.0"`
		model.Stamp
	}
	tagStampNotInt struct {
		ID         uint
		ObjVersion string `gorm:"column:obj_version"`
		Name       string `tandem:"deprecated=2.0"`
	}
)

// modelInput is one bad model declaration.
type modelInput struct {
	name  string
	what  string
	model any
	err   error
	field string // the field the *model.SpecError names
	want  string // in the message
}

func modelInputs() []modelInput {
	return []modelInput{
		{"tag-unknown-key", "`tandem:\"removed=2.0\"`", &tagUnknownKey{}, model.ErrUnknownTagKey, "Name", `"removed" in tag "removed=2.0" (known keys: added, deprecated)`},
		{"tag-empty", "`tandem:\"\"`", &tagEmpty{}, model.ErrMalformedTag, "Name", `empty tag "" (want added=R, deprecated=R or both`},
		{"tag-without-release", "`tandem:\"deprecated\"`", &tagNoRelease{}, model.ErrMalformedTag, "Name", `"deprecated" in tag "deprecated" is not key=release`},
		{"tag-bad-version", "`tandem:\"added=2.x\"`", &tagBadVersion{}, model.ErrBadVersion, "Name", `added="2.x"`},
		{"tag-version-out-of-range", "`tandem:\"added=70000.0\"`", &tagVersionOutOfRange{}, model.ErrBadVersion, "Name", "70000 is out of range 0..65535"},
		{"tag-release-zero", "`tandem:\"added=0.0\"`", &tagZeroRelease{}, model.ErrBadVersion, "Name", "release 0.0 is reserved for rows written before tandem"},
		{"tag-key-twice", "`tandem:\"added=2.0,added=3.0\"`", &tagKeyTwice{}, model.ErrMalformedTag, "Name", `key "added" given twice`},
		{"tag-deprecated-before-added", "`tandem:\"added=3.0,deprecated=2.0\"`", &tagDeprecatedBeforeAdded{}, model.ErrDeprecatedBeforeAdded, "Name", "deprecated=2.0 is not after added=3.0"},
		{"tag-on-primary-key", "a tag on the primary key", &tagOnPrimaryKey{}, model.ErrTagOnPrimaryKey, "ID", "column id is part of the primary key"},
		{"tag-without-stamp", "a transitional field in a model without model.Stamp", &tagWithoutStamp{}, model.ErrNoStamp, "Name", "embed model.Stamp"},
		{"tag-added-not-null", "an added field NOT NULL without a default", &tagAddedNotNull{}, model.ErrAddedNotNull, "Email", "make it nullable or give it a default"},
		{"stamp-not-int64", "an obj_version field that is a string", &tagStampNotInt{}, model.ErrBadStamp, "ObjVersion", "embed model.Stamp instead of declaring obj_version yourself"},
	}
}

// TestBadInputModelTags: every bad declaration is refused by model.SpecOf
// with its sentinel error and a *model.SpecError naming the field.
func TestBadInputModelTags(t *testing.T) {
	g, err := dialect.OpenDSN(context.Background(), "sqlite::memory:", &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range modelInputs() {
		t.Run(c.name, func(t *testing.T) {
			spec, err := model.SpecOf(g, c.model)
			var se *model.SpecError
			switch {
			case spec != nil || err == nil:
				t.Fatalf("SpecOf(%T) = %v, %v; want an error", c.model, spec, err)
			case !errors.Is(err, c.err):
				t.Errorf("SpecOf(%T) = %v; want errors.Is %v", c.model, err, c.err)
			case !errors.As(err, &se) || se.Field != c.field:
				t.Errorf("SpecOf(%T) = %#v; want a *model.SpecError naming field %s", c.model, err, c.field)
			case !strings.Contains(err.Error(), c.want):
				t.Errorf("SpecOf(%T) = %q; want it to say %q", c.model, err, c.want)
			}
		})
	}
}

// pluginInput is one plugin start-up tandem must refuse.
type pluginInput struct {
	name   string
	what   string
	state  badState
	plugin func() *compat.Plugin
	err    error  // errors.Is
	want   string // in the message
	hint   string // in the message: what to do
}

func pluginInputs() []pluginInput {
	return []pluginInput{
		{"plugin-bad-model-tag", "a model with a bad tag given to the plugin", expandedV2,
			func() *compat.Plugin {
				return compat.New(shop.V2, compat.WithModels(&shop.CustomerV2{}, &tagUnknownKey{}), compat.WithoutListen())
			}, model.ErrUnknownTagKey, "model tagUnknownKey.Name: unknown tandem tag key", "(known keys: added, deprecated)"},
		{"plugin-release-zero", "a plugin built with release 0.0", expandedV2,
			func() *compat.Plugin { return compat.New(versions.Version{}) }, compat.ErrZeroRelease, "release 0.0 is reserved", "construct the plugin with the release this binary implements"},
		{"plugin-bad-heartbeat", "a heartbeat TTL shorter than its interval", expandedV2,
			func() *compat.Plugin { return compat.New(shop.V2, compat.WithHeartbeat(5*time.Second, time.Second)) }, nil, "heartbeat interval 5s", "must be positive and below its TTL 1s"},
		{"plugin-before-expand", "a 2.0 binary started before the 2.0 expand", atV1,
			func() *compat.Plugin {
				return compat.New(shop.V2, compat.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}), compat.WithoutListen())
			}, compat.ErrExpandNotApplied, "release 2.0 cannot start: its expand is not applied (state pending)", "run 'tandem expand --release 2.0' first"},
		{"plugin-too-old", "a 1.0 binary started once 2.0 is contract-ready", readyV2,
			func() *compat.Plugin {
				return compat.New(shop.V1, compat.WithModels(&shop.CustomerV1{}, &shop.ParcelV1{}), compat.WithoutListen())
			}, compat.ErrTooOld, "release 1.0 cannot start: release 2.0 is contract-ready", "deploy release 2.0 or later"},
	}
}

// TestBadInputPlugin: the compat plugin refuses bad declarations and unsafe
// start-ups from Initialize, and registers nothing in the database.
func TestBadInputPlugin(t *testing.T) {
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			var need []badState
			for _, c := range pluginInputs() {
				need = append(need, c.state)
			}
			states := newShopStates(t, d, need)
			for _, c := range pluginInputs() {
				t.Run(c.name, func(t *testing.T) {
					db := states[c.state]
					before := dbState(t, db)
					p := c.plugin()
					err := db.Open(t).Use(p)
					_ = p.Close()
					switch {
					case err == nil:
						t.Fatalf("the plugin started")
					case c.err != nil && !errors.Is(err, c.err):
						t.Errorf("Initialize: %v; want errors.Is %v", err, c.err)
					case !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.hint):
						t.Errorf("Initialize: %q; want it to say %q and %q", err, c.want, c.hint)
					}
					t.Logf("Initialize: %v", err)
					if after := dbState(t, db); after != before {
						t.Errorf("the database changed:\n%s", lineDiff(before, after))
					}
				})
			}
		})
	}
}

// TestBadInputDoc checks that the "## Bad input" section of
// docs/RELIABILITY.md lists every input above (-update-doc rewrites it).
func TestBadInputDoc(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "RELIABILITY.md")
	section := badInputDoc()
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	doc := replaceSection(string(old), section)
	if *updateDoc {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != string(old) {
		t.Errorf("%s: the Bad input section is not current; run go test -run BadInputDoc ./cmd/tandem/cli -update-doc", path)
	}
}

const (
	docTitle = "# Reliability\n\n" +
		"What tandem survives, and how each claim is tested. Every section names the test that\n" +
		"checks it; the figures are from runs on the machine the docs were last built on.\n"
	docHeading = "## Bad input"
)

// replaceSection puts section in place of doc's "## Bad input" section (up to
// the next "## " heading), appends it when missing, and starts a missing doc.
func replaceSection(doc, section string) string {
	if strings.TrimSpace(doc) == "" {
		return docTitle + "\n" + section
	}
	start := strings.Index(doc, "\n"+docHeading+"\n")
	if start < 0 {
		return strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	start++
	end := len(doc)
	if i := strings.Index(doc[start+len(docHeading):], "\n## "); i >= 0 {
		end = start + len(docHeading) + i + 1
	}
	rest := doc[end:]
	if rest != "" {
		section += "\n"
	}
	return doc[:start] + section + rest
}

func badInputDoc() string {
	var b strings.Builder
	cases := badInputs()
	fmt.Fprintf(&b, "%s\n\n", docHeading)
	fmt.Fprintf(&b, "Bad input gets a precise message with a hint of what to do, a documented exit code (see\n"+
		"the README), and changes nothing. `cmd/tandem/cli/badinput_test.go` holds %d named bad\n"+
		"inputs run through the CLI (the shop's own binary, `examples/shop`), %d model declarations\n"+
		"and %d plugin start-ups, and a session killed in the middle of a migration:\n\n",
		len(cases), len(modelInputs()), len(pluginInputs()))
	b.WriteString("```sh\nTANDEM_REQUIRE_DBS=1 go test -race -count=1 -run BadInput ./cmd/tandem/cli\n" +
		"go test -run BadInputDoc ./cmd/tandem/cli -update-doc   # rewrites this section from the test's tables\n```\n\n")
	b.WriteString("Each CLI input runs against a database of the sample shop brought to a known state (the\n" +
		"`state` column) on SQLite, PostgreSQL and MariaDB unless `dialects` says otherwise. Before\n" +
		"and after, the test records the schema (columns and types, indexes, constraints,\n" +
		"triggers) and every row of every table, the `tandem_` tables included, and fails if\n" +
		"anything differs; files named by `--out`, `--write` and `--backup` must keep their\n" +
		"content, and a password given in the DSN must never be printed. `—` in `state` means the\n" +
		"input is refused before any database is reached; it runs once. In the inputs, `FILE` is an\n" +
		"existing file, `DIR` a directory already holding one of the files `plan --write` would\n" +
		"write, `PORT` a local port where a server accepts connections and never answers, `DB`\n" +
		"the state's database and `DIALECT` its dialect; `with` and `without` name the migration\n" +
		"files added to or removed from the shop's (given with `--dir`). The states, each built\n" +
		"through the CLI as an operator would:\n\n" +
		"- `1.0`: `expand --release 1.0` on an empty database (the 1.0 baseline), then 3 customers\n" +
		"  and 2 parcels written by 1.0;\n" +
		"- `2.0 expanded`: then `expand --release 2.0`, and a 2.0 instance started and stopped (it\n" +
		"  registers the 2.0 models); the rows are still at 1.0;\n" +
		"- `2.0 migrated`: then `migrate --release 2.0`: every row at 2.0, the flag not set;\n" +
		"- `2.0 contract-ready`: then `flag set --release 2.0 contract-ready`;\n" +
		"- `2.0 migrated, a 1.0 instance live`: `2.0 migrated` with a 1.0 instance registered\n" +
		"  whose heartbeat is current;\n" +
		"- `2.0 contract failed`: `2.0 contract-ready`, then `contract --release 2.0` with a\n" +
		"  `2.0_contract02_broken.sql` that fails: `2.0_contract01` dropped the deprecated columns.\n\n")
	b.WriteString("| # | input | what is wrong | state | dialects | exit | the message names | the hint says |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for i, c := range cases {
		state, on := string(c.state), "all"
		if c.state == noDB {
			state, on = "—", "—"
		}
		if c.on != nil {
			var names []string
			for _, d := range c.on {
				names = append(names, string(d))
			}
			on = strings.Join(names, ", ")
		}
		input := "`tandem " + strings.NewReplacer("{file}", "FILE", "{gen}", "DIR", "{silent}", "PORT").Replace(strings.Join(quoteArgs(c.args), " ")) + "`"
		var with, without []string
		for name, body := range c.files {
			if body == "" {
				without = append(without, name)
			} else {
				with = append(with, name)
			}
		}
		sort.Strings(with)
		sort.Strings(without)
		if len(with) > 0 {
			input += " with " + strings.Join(with, ", ")
		}
		if len(without) > 0 {
			input += " without " + strings.Join(without, ", ")
		}
		if c.dsnAs != "" {
			input += " on `" + c.dsnAs + "`"
		}
		var want []string
		for _, w := range c.want {
			want = append(want, cell(strings.NewReplacer("{db}", "DB", "{dialect}", "DIALECT").Replace(w)))
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %s | %s |\n", i+1, cell(c.name)+"<br>"+escapeCell(input), escapeCell(c.what), state, on, c.code, strings.Join(want, " … "), cell(c.hint))
	}
	b.WriteString("\nThe server going down in the middle of a run (`TestBadInputServerGoneMidRun`, PostgreSQL\n" +
		"and MariaDB): while `expand` runs a slow migration (`pg_sleep`, `SLEEP`), another session\n" +
		"kills the runner's connection (`pg_terminate_backend`, `KILL`). The run exits 1 naming\n" +
		"the failed migration, with a hint; a rerun with the server back (`--lock-timeout 0s`, so\n" +
		"a lock left behind would fail it) converges: every migration applied exactly once, the\n" +
		"new columns present, `check` at exit 4 (migrate pending). A server that accepts\n" +
		"connections but never answers is the `dsn-silent-*` inputs above: `--connect-timeout`\n" +
		"(default 10s) bounds the wait.\n\n")
	b.WriteString("Struct tags and versions in them are library input. `model.SpecOf` refuses each of these\n" +
		"with its sentinel error (`errors.Is`) and a `*model.SpecError` naming the field\n" +
		"(`TestBadInputModelTags`):\n\n")
	b.WriteString("| input | declaration | error | the message names |\n|---|---|---|---|\n")
	for _, c := range modelInputs() {
		fmt.Fprintf(&b, "| %s | %s | `%s` on field %s | %s |\n", cell(c.name), escapeCell(c.what), sentinelName(c.err), c.field, cell(c.want))
	}
	b.WriteString("\nThe compat plugin refuses these start-ups from `Initialize` (`db.Use`) and writes nothing\n" +
		"to the database, on every dialect (`TestBadInputPlugin`):\n\n")
	b.WriteString("| input | what is wrong | state | error | the message names | the hint says |\n|---|---|---|---|---|---|\n")
	for _, c := range pluginInputs() {
		e := "an option error"
		if c.err != nil {
			e = "`" + sentinelName(c.err) + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(c.name), escapeCell(c.what), c.state, e, cell(c.want), cell(c.hint))
	}
	return b.String()
}

func sentinelName(err error) string {
	for _, s := range []struct {
		name string
		err  error
	}{
		{"model.ErrUnknownTagKey", model.ErrUnknownTagKey}, {"model.ErrMalformedTag", model.ErrMalformedTag},
		{"model.ErrBadVersion", model.ErrBadVersion}, {"model.ErrDeprecatedBeforeAdded", model.ErrDeprecatedBeforeAdded},
		{"model.ErrTagOnPrimaryKey", model.ErrTagOnPrimaryKey}, {"model.ErrNoStamp", model.ErrNoStamp},
		{"model.ErrAddedNotNull", model.ErrAddedNotNull}, {"model.ErrBadStamp", model.ErrBadStamp},
		{"compat.ErrZeroRelease", compat.ErrZeroRelease}, {"compat.ErrExpandNotApplied", compat.ErrExpandNotApplied},
		{"compat.ErrTooOld", compat.ErrTooOld},
	} {
		if s.err == err {
			return s.name
		}
	}
	return err.Error()
}

// quoteArgs quotes the arguments a shell would split.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// cell formats text as code in a table cell.
func cell(s string) string { return "`" + strings.ReplaceAll(s, "|", `\|`) + "`" }

// escapeCell escapes the table separator.
func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
