package migrations

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// A converter batch reads the next stale rows' keys and compared values
// in one keyset query, then their models, runs the converters, and writes
// every row back in one UPDATE joined to a derived table of (key, old
// stamp, old values, new values): each row costs its own row of bound
// values and one key lookup, so a batch's cost grows linearly with its
// size.

// casColumns returns, for the primary key columns then the compared
// columns of j, what the write wraps a bound value in: on PostgreSQL the
// column's type (a VALUES list types its columns from the values), on
// MySQL the character set of a string column (compared byte for byte, so
// that a case-only change by a writer is not taken for the value read).
func (r *Runner) casColumns(ctx context.Context, db *gorm.DB, j job) ([]string, error) {
	cols := append(append([]string(nil), j.table.PrimaryKey...), j.colsCAS...)
	var query string
	var args []any
	switch r.dialect {
	case dialect.Postgres:
		query = "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped"
		args = []any{r.q(j.table.Table)}
	case dialect.MySQL:
		query = "SELECT COLUMN_NAME, COALESCE(CHARACTER_SET_NAME, '') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
		args = []any{j.table.Table}
	default:
		return make([]string, len(cols)), nil
	}
	rows, err := db.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		found[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		t, ok := found[c]
		if !ok {
			return nil, fmt.Errorf("migrations: table %s has no column %s, which the backfill of %s compares\nhint: apply the expand phase of release %s first", j.table.Table, c, j.spec.Model, j.change)
		}
		out[i] = t
	}
	return out, nil
}

// nextRows reads the keys and the compared values, as the database holds
// them, of the next n stale rows after cursor. The values are keyed by the
// primary key printed as the model's key fields print it.
func (r *Runner) nextRows(ctx context.Context, tx *gorm.DB, j job, cursor string, n int) ([][]any, map[string][]any, error) {
	rows, err := r.keysetRows(ctx, tx, j, j.colsCAS, cursor, n)
	if err != nil {
		return nil, nil, err
	}
	pk := j.table.PrimaryKey
	s := j.spec.Schema()
	sample := reflect.New(s.ModelType).Elem()
	keys := make([][]any, 0, len(rows))
	raw := make(map[string][]any, len(rows))
	for _, vals := range rows {
		canon := make([]any, len(pk))
		for i, c := range pk {
			f := s.LookUpField(c)
			if err := f.Set(ctx, sample, vals[i]); err != nil {
				return nil, nil, err
			}
			canon[i], _ = f.ValueOf(ctx, sample)
		}
		keys = append(keys, vals[:len(pk):len(pk)])
		raw[fmt.Sprint(canon...)] = vals[len(pk):]
	}
	return keys, raw, nil
}

// casWrite is one row of a converter batch's write.
type casWrite struct {
	key      []any
	oldStamp int64
	old, new []any
}

// convertBatch converts the next stale rows after the batch's cursor and
// writes their transitional columns back in one statement that compares
// and sets: a row whose stamp or transitional values changed since it was
// read is left for the next pass. It returns the rows read and the rows
// written.
func (r *Runner) convertBatch(ctx context.Context, tx *gorm.DB, j job, cursor string, n int) ([][]any, int, error) {
	// The compared values are read as the database holds them (NULL stays
	// NULL), and BEFORE the models: if a writer commits between the two
	// reads, the comparison fails and the row is retried, instead of the
	// models' older values overwriting the writer's.
	keys, raw, err := r.nextRows(ctx, tx, j, cursor, n)
	if err != nil || len(keys) == 0 {
		return keys, 0, err
	}
	s := j.spec.Schema()
	pk := j.table.PrimaryKey
	pred, pargs := r.stalePredicate(j)
	var where string
	var args []any
	if len(pk) == 1 {
		// One key column: the batch is a range of the key (rows that became
		// stale inside it meanwhile have no values read and are skipped).
		where = r.q(pk[0]) + " >= ? AND " + r.q(pk[0]) + " <= ?"
		args = []any{keys[0][0], keys[len(keys)-1][0]}
	} else {
		where, args = r.keyIn(pk, keys)
	}
	slice := reflect.New(reflect.SliceOf(s.ModelType))
	// Unscoped: a soft-deleted row is a row too, whose deprecated column the
	// contract drops and whose stamp the gate counts.
	if err := tx.WithContext(ctx).Session(&gorm.Session{NewDB: true}).Unscoped().Where(where+" AND "+pred, append(args, pargs...)...).Find(slice.Interface()).Error; err != nil {
		return keys, 0, err
	}
	rows := slice.Elem()
	fields := make([]*schema.Field, len(j.colsCAS))
	for i, c := range j.colsCAS {
		fields[i] = s.LookUpField(c)
	}
	pkFields := make([]*schema.Field, len(pk))
	for i, c := range pk {
		pkFields[i] = s.LookUpField(c)
	}
	stampField := s.LookUpField(j.table.Stamp)
	writes := make([]casWrite, 0, rows.Len())
	for i := 0; i < rows.Len(); i++ {
		v := rows.Index(i)
		w := casWrite{key: make([]any, len(pk))}
		for k, f := range pkFields {
			w.key[k], _ = f.ValueOf(ctx, v)
		}
		sv, _ := stampField.ValueOf(ctx, v)
		w.oldStamp, _ = sv.(int64)
		w.old = raw[fmt.Sprint(w.key...)]
		if w.old == nil {
			continue // stale only since its keys were read
		}
		switch {
		case w.oldStamp < j.change.Stamp():
			from, _, err := versions.DecodeStamp(w.oldStamp)
			if err != nil {
				return keys, 0, err
			}
			if err := v.Addr().Interface().(model.Upgrader).TandemUpgrade(from); err != nil {
				return keys, 0, fmt.Errorf("upgrade %s row %v: %w", j.spec.Model, w.key, err)
			}
		case w.oldStamp == j.target.MarkedStamp():
			if err := v.Addr().Interface().(model.Downgrader).TandemDowngrade(); err != nil {
				return keys, 0, fmt.Errorf("downgrade %s row %v: %w", j.spec.Model, w.key, err)
			}
		}
		w.new = make([]any, len(fields))
		for k, f := range fields {
			w.new[k], _ = f.ValueOf(ctx, v)
		}
		writes = append(writes, w)
	}
	if len(writes) == 0 {
		return keys, 0, nil
	}
	sql, all := r.casStatement(j, writes)
	if needsGORM(all) {
		res := tx.WithContext(ctx).Exec(sql, all...)
		return keys, int(res.RowsAffected), res.Error
	}
	// Sent to the driver as it is: GORM's handling of a statement's values
	// costs an allocation or two per value, which for a batch of thousands
	// of rows is most of the backfill's garbage.
	res, err := tx.Statement.ConnPool.ExecContext(ctx, dialect.Placeholders(r.dialect, sql), all...)
	if err != nil {
		return keys, 0, err
	}
	changed, err := res.RowsAffected()
	return keys, int(changed), err
}

// needsGORM reports whether a value of the batch's write is one that GORM
// turns into something else before the driver sees it (see
// gorm.Statement.AddVar), so that the write must go through GORM to store
// what GORM's own writes store: a gorm.Valuer (GormValue wins over a
// driver.Valuer), an SQL expression, or a slice or array that is neither
// []byte nor a driver.Valuer (GORM writes an empty one as NULL, a named
// byte slice such as json.RawMessage included). Every other value, the
// usual scalars, times, []byte, driver.Valuers and serializer fields, goes
// to the driver unchanged either way.
func needsGORM(vals []any) bool {
	for _, v := range vals {
		switch v.(type) {
		case nil, string, int64, int, int32, float64, bool, time.Time, []byte:
			continue
		case gorm.Valuer, clause.Expression, clause.Interface, sql.NamedArg, *gorm.DB:
			return true
		case driver.Valuer:
			continue
		}
		if k := reflect.ValueOf(v).Kind(); k == reflect.Slice || k == reflect.Array {
			return true
		}
	}
	return false
}

// casStatement renders the write of a converter batch: an UPDATE joined on
// the key to a derived table v of one row per write, which sets the new
// values and the target stamp where the stamp and the compared values are
// still those read.
func (r *Runner) casStatement(j job, writes []casWrite) (string, []any) {
	pk, cols := j.table.PrimaryKey, j.colsCAS
	table := r.q(j.table.Table)
	qcol := func(c string) string { return table + "." + r.q(c) }
	vcol := func(prefix string, i int) string { return "v." + r.q(fmt.Sprintf("%s%d", prefix, i)) }

	// v's columns: k0.. (key), s (old stamp), o0.. (old values), n0.. (new).
	var names []string
	for i := range pk {
		names = append(names, r.q(fmt.Sprintf("k%d", i)))
	}
	names = append(names, r.q("s"))
	for i := range cols {
		names = append(names, r.q(fmt.Sprintf("o%d", i)))
	}
	for i := range cols {
		names = append(names, r.q(fmt.Sprintf("n%d", i)))
	}
	width := len(names)
	args := make([]any, 0, len(writes)*width+1)
	for _, w := range writes {
		args = append(args, w.key...)
		args = append(args, w.oldStamp)
		args = append(args, w.old...)
		args = append(args, w.new...)
	}

	var on []string
	for i, c := range pk {
		on = append(on, qcol(c)+" = "+vcol("k", i))
	}
	on = append(on, qcol(j.table.Stamp)+" = v."+r.q("s"))
	for i, c := range cols {
		old := vcol("o", i)
		if cs := j.casTypes[len(pk)+i]; r.dialect == dialect.MySQL && cs != "" && cs != "binary" {
			old = "(CONVERT(" + old + " USING " + cs + ") COLLATE " + cs + "_bin)"
		}
		cur := qcol(c)
		if r.dialect == dialect.Postgres && j.casTypes[len(pk)+i] == "json" {
			// json has no equality operator, and its text does not survive
			// the round trip through the driver (key order, spaces): compare
			// the values as jsonb.
			cur, old = "CAST("+cur+" AS jsonb)", "CAST("+old+" AS jsonb)"
		}
		on = append(on, cur+" "+dialect.NullSafeEq(r.dialect)+" "+old)
	}
	var set []string
	for i, c := range cols {
		prefix := ""
		if r.dialect == dialect.MySQL {
			prefix = table + "."
		}
		set = append(set, prefix+r.q(c)+" = "+vcol("n", i))
	}
	stampSet := r.q(j.table.Stamp) + " = ?"
	if r.dialect == dialect.MySQL {
		stampSet = qcol(j.table.Stamp) + " = ?"
	}
	set = append(set, stampSet)

	var b strings.Builder
	// dialect.Tuple: a []byte value bound right after "(" would be spread
	// into one value per byte.
	row := dialect.Tuple(width)
	switch r.dialect {
	case dialect.Postgres:
		// The first row casts every value to its column's type; the others
		// take the types from it.
		var first []string
		for i := 0; i < width; i++ {
			typ := "bigint"
			switch {
			case i < len(pk):
				typ = j.casTypes[i]
			case i > len(pk):
				typ = j.casTypes[len(pk)+(i-len(pk)-1)%len(cols)]
			}
			first = append(first, "CAST( ? AS "+typ+")")
		}
		b.WriteString("UPDATE " + table + " SET " + strings.Join(set, ", ") + " FROM (VALUES (" + strings.Join(first, ", ") + ")")
		for range writes[1:] {
			b.WriteString(", " + row)
		}
		b.WriteString(") AS v(" + strings.Join(names, ", ") + ") WHERE " + strings.Join(on, " AND "))
		return b.String(), append([]any{j.target.Stamp()}, args...)
	case dialect.MySQL:
		// A derived table of UNION ALL rows, read first (STRAIGHT_JOIN) so
		// that each of its rows is one primary key lookup.
		b.WriteString("UPDATE (SELECT ")
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("? AS " + n)
		}
		sel := " UNION ALL SELECT " + strings.Trim(row, "( )")
		for range writes[1:] {
			b.WriteString(sel)
		}
		b.WriteString(") AS v STRAIGHT_JOIN " + table + " ON " + strings.Join(on, " AND ") + " SET " + strings.Join(set, ", "))
		return b.String(), append(args, j.target.Stamp())
	default:
		b.WriteString("WITH v(" + strings.Join(names, ", ") + ") AS (VALUES " + row)
		for range writes[1:] {
			b.WriteString(", " + row)
		}
		b.WriteString(") UPDATE " + table + " SET " + strings.Join(set, ", ") + " FROM v WHERE " + strings.Join(on, " AND "))
		return b.String(), append(args, j.target.Stamp())
	}
}

// cursorOf renders a key as a persisted cursor.
func cursorOf(key []any) (string, error) {
	b, err := json.Marshal(key)
	return string(b), err
}
