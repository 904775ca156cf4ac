package migrations

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/versions"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TestCasStatementPlaceholders: every "?" of the PostgreSQL write
// casStatement renders is numbered, none inside its quoted identifiers,
// even with identifiers and type names holding ? ' " $ -- and /*: the
// numbers run 1..len(args) in order.
func TestCasStatementPlaceholders(t *testing.T) {
	r := &Runner{dialect: dialect.Postgres}
	j := job{
		table:   VersionedTable{Table: `odd?'ta"ble--/*`, PrimaryKey: []string{`k?1`, `k'2`}, Stamp: `obj?version`},
		target:  versions.MustParse("2.0"),
		colsCAS: []string{`a?b`, `c"'?d`, `$1`},
		casTypes: []string{`bigint`, `character varying(10)`,
			`text`, `public."my?type"`, `"char"`},
	}
	writes := []casWrite{
		{key: []any{1, "x"}, oldStamp: 5, old: []any{"o1", "o2", "o3"}, new: []any{"n1", "n2", "n3"}},
		{key: []any{2, "y"}, oldStamp: 6, old: []any{nil, nil, nil}, new: []any{"m1", "m2", "m3"}},
	}
	sql, args := r.casStatement(j, writes)
	out := dialect.Placeholders(dialect.Postgres, sql)
	nums := regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(stripQuoted(out), -1)
	if len(nums) != len(args) {
		t.Fatalf("%d placeholders numbered, %d args\n%s", len(nums), len(args), out)
	}
	for i, m := range nums {
		if m[1] != strconv.Itoa(i+1) {
			t.Fatalf("placeholder %d is $%s\n%s", i+1, m[1], out)
		}
	}
	if strings.Contains(stripQuoted(out), "?") {
		t.Fatalf("a ? is left outside quotes\n%s", out)
	}
	// Identifiers come back unchanged.
	if strings.Count(out, `"obj?version"`) != strings.Count(sql, `"obj?version"`) || !strings.Contains(out, `"$1"`) {
		t.Fatalf("quoted identifiers changed\n%s", out)
	}
}

func stripQuoted(s string) string {
	var b strings.Builder
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type casGormValued struct{}

func (casGormValued) GormValue(context.Context, *gorm.DB) clause.Expr {
	return clause.Expr{SQL: "?", Vars: []any{"x"}}
}

type casDriverValued [2]byte

func (casDriverValued) Value() (driver.Value, error) { return "v", nil }

// TestNeedsGORM: the values the batch write must leave to GORM are those
// gorm.Statement.AddVar would change; the rest go to the driver directly.
func TestNeedsGORM(t *testing.T) {
	s := "s"
	for _, c := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {"s", false}, {int64(1), false}, {uint64(1) << 63, false}, {3.5, false}, {true, false},
		{time.Now(), false}, {[]byte{}, false}, {[]byte("x"), false}, {&s, false},
		{sql.NullString{}, false}, {casDriverValued{}, false},
		{casGormValued{}, true}, {clause.Expr{SQL: "NOW()"}, true},
		{json.RawMessage(""), true}, {json.RawMessage("{}"), true}, {[]string{"a"}, true}, {[]any{}, true},
	} {
		if got := needsGORM([]any{"plain", c.v}); got != c.want {
			t.Errorf("needsGORM(%T %v) = %v, want %v", c.v, c.v, got, c.want)
		}
	}
}
