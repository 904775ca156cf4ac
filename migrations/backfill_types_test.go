package migrations_test

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// btVal is a driver.Valuer with a value receiver.
type btVal struct{ S string }

func (v btVal) Value() (driver.Value, error) { return "v:" + v.S, nil }

func (v *btVal) Scan(src any) error { return btScan(&v.S, src, "v:") }

// btPtr is a driver.Valuer with a pointer receiver (nil-safe).
type btPtr struct{ S string }

func (p *btPtr) Value() (driver.Value, error) {
	if p == nil {
		return nil, nil
	}
	return "p:" + p.S, nil
}

func (p *btPtr) Scan(src any) error { return btScan(&p.S, src, "p:") }

func btScan(dst *string, src any, prefix string) error {
	switch s := src.(type) {
	case nil:
		*dst = ""
	case []byte:
		*dst = strings.TrimPrefix(string(s), prefix)
	case string:
		*dst = strings.TrimPrefix(s, prefix)
	default:
		return fmt.Errorf("cannot scan %T", src)
	}
	return nil
}

type btStatus string
type btLevel int

// btBig is the uint64 the converter writes: above int64's max where the
// column can hold it (PostgreSQL numeric, MySQL BIGINT UNSIGNED).
var btBig uint64

// btBin is the []byte the converter writes on odd rows. MySQL gets valid
// UTF-8 only: its derived table types a []byte parameter as text in the
// connection's character set, so 0xff fails there (a known limit, see
// docs/migrations.md).
var btBin []byte

// BtTypesV2 has one added field of each kind of Go type a model may hold; the converter
// fills them from the id (odd ids: values, even ids: nil/NULL/empty
// variants).
type BtTypesV2 struct {
	ID      int64          `gorm:"primaryKey;autoIncrement:false"`
	Src     string         `gorm:"size:50" tandem:"deprecated=2.0"`
	JS      map[string]any `gorm:"column:js;serializer:json" tandem:"added=2.0"`
	Unix    int64          `gorm:"column:unix;serializer:unixtime" tandem:"added=2.0"`
	VR      btVal          `gorm:"column:vr" tandem:"added=2.0"`
	VRP     *btVal         `gorm:"column:vrp" tandem:"added=2.0"`
	PRP     *btPtr         `gorm:"column:prp" tandem:"added=2.0"`
	At      time.Time      `gorm:"column:at" tandem:"added=2.0"`
	AtLocal time.Time      `gorm:"column:at_local" tandem:"added=2.0"`
	Bin     []byte         `gorm:"column:bin" tandem:"added=2.0"`
	NP      *string        `gorm:"column:np" tandem:"added=2.0"`
	St      btStatus       `gorm:"column:st" tandem:"added=2.0"`
	Lv      btLevel        `gorm:"column:lv" tandem:"added=2.0"`
	Big     uint64         `gorm:"column:big" tandem:"added=2.0"`
	Ok      bool           `gorm:"column:ok" tandem:"added=2.0"`
	NS      sql.NullString `gorm:"column:ns" tandem:"added=2.0"`
	Del     gorm.DeletedAt `gorm:"column:del" tandem:"added=2.0"`
	model.Stamp
}

func (BtTypesV2) TableName() string { return "bttypes" }

func (m *BtTypesV2) TandemUpgrade(versions.Version) error {
	id := m.ID
	odd := id%2 == 1
	loc := time.FixedZone("X", 5*3600+1800)
	m.JS = map[string]any{"id": id, "s": m.Src}
	m.Unix = 1700000000 + id
	m.VR = btVal{S: m.Src}
	m.At = time.Date(2024, 2, 29, 23, 30, 15, 123456000, loc).Add(time.Duration(id) * time.Hour)
	m.AtLocal = time.Date(2024, 7, 1, 1, 2, 3, 0, loc)
	m.St = btStatus("st-" + m.Src)
	m.Lv = btLevel(id * 1000)
	m.Big = btBig + uint64(id)
	m.Ok = odd
	if odd {
		v, p, s := btVal{S: "x"}, btPtr{S: "y"}, "np"
		m.VRP, m.PRP, m.NP = &v, &p, &s
		m.Bin = append([]byte(nil), btBin...)
		m.NS = sql.NullString{String: "ns", Valid: true}
		m.Del = gorm.DeletedAt{Time: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), Valid: true}
	} else {
		m.VRP, m.PRP, m.NP = nil, nil, nil
		m.Bin = []byte{} // empty, not nil
		m.NS = sql.NullString{}
		m.Del = gorm.DeletedAt{}
	}
	return nil
}

func (m *BtTypesV2) TandemDowngrade() error { return nil }

func btColumns(d string) string {
	ts, tsl, bin, big, boolean := "DATETIME", "DATETIME", "BLOB", "BIGINT", "BOOLEAN"
	switch d {
	case "postgres":
		ts, tsl, bin, big = "TIMESTAMPTZ", "TIMESTAMP", "BYTEA", "NUMERIC(20)"
	case "mysql":
		ts, tsl, bin, big = "DATETIME(6)", "DATETIME(6)", "BLOB", "BIGINT UNSIGNED"
	}
	return strings.Join([]string{
		"js TEXT", "unix " + ts, "vr VARCHAR(50)", "vrp VARCHAR(50)", "prp VARCHAR(50)",
		"at " + ts, "at_local " + tsl, "bin " + bin, "np VARCHAR(50)", "st VARCHAR(50)",
		"lv BIGINT", "big " + big, "ok " + boolean, "ns VARCHAR(50)", "del " + ts,
	}, ", ")
}

const btCols = "id, js, unix, vr, vrp, prp, at, at_local, bin, np, st, lv, big, ok, ns, del"

// btRead returns the rows of table, one string per row listing each of
// cols with its value as the driver returns it.
func btRead(t *testing.T, db *dbtest.DB, table, btCols string) []string {
	t.Helper()
	rows, err := db.Gorm.Raw("SELECT " + btCols + " FROM " + table + " ORDER BY id").Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(strings.Split(btCols, ",")))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if s, ok := v.([]byte); ok {
				fmt.Fprintf(&b, "%s=[]byte%q\t", strings.TrimSpace(strings.Split(btCols, ",")[i]), s)
			} else {
				fmt.Fprintf(&b, "%s=%T(%v)\t", strings.TrimSpace(strings.Split(btCols, ",")[i]), v, v)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestBackfillWritesWhatGORMWrites: for one model with a transitional field of
// each kind of type, the rows the Go backfill writes equal those
// GORM's Create writes from the same converted models. None of these
// values needs GORM's value handling, so the batches go to the driver
// directly: no UPDATE of the table passes through GORM.
func TestBackfillWritesWhatGORMWrites(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		btBig = math.MaxInt64 + 10
		if db.Dialect == "sqlite" {
			btBig = 1 << 40
		}
		btBin = []byte{0, 1, 2, 0xff}
		if db.Dialect == "mysql" {
			btBin = []byte{0, 1, 2, 'z'}
		}
		viaGORM := backfillMatchesCreate(t, db, "bttypes", btColumns(string(db.Dialect)), btCols, 8,
			func(id int64, src string) any {
				m := BtTypesV2{ID: id, Src: src, Stamp: model.Stamp{ObjVersion: st20}}
				if err := m.TandemUpgrade(rel10); err != nil {
					t.Fatal(err)
				}
				return &m
			}, &BtTypesV2{})
		wantEqual(t, "UPDATEs of bttypes sent through GORM", viaGORM, 0)
	})
}

// BtRawV2 holds JSON documents as json.RawMessage, which GORM writes as
// NULL when empty (a slice that is not []byte): the backfill's batches then
// go through GORM.
type BtRawV2 struct {
	ID   int64           `gorm:"primaryKey;autoIncrement:false"`
	Src  string          `gorm:"size:50" tandem:"deprecated=2.0"`
	Raw  json.RawMessage `gorm:"column:raw" tandem:"added=2.0"`
	RawT json.RawMessage `gorm:"column:raw_t" tandem:"added=2.0"`
	model.Stamp
}

func (BtRawV2) TableName() string { return "btraw" }

func (m *BtRawV2) TandemUpgrade(versions.Version) error {
	if m.ID%2 == 1 {
		m.Raw, m.RawT = json.RawMessage(`{"a": [1, 2]}`), json.RawMessage(`{"b": 1}`)
	} else {
		m.Raw, m.RawT = nil, json.RawMessage("") // nil, and empty but not nil
	}
	return nil
}

func (m *BtRawV2) TandemDowngrade() error { return nil }

// TestBackfillRawMessagesAsGORM: json.RawMessage fields, nil, empty and
// set, are written by the backfill as GORM's Create writes them (an empty
// one as NULL, not ”), through GORM.
func TestBackfillRawMessagesAsGORM(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		js := map[dialect.Name]string{dialect.Postgres: "JSONB", dialect.MySQL: "JSON"}[db.Dialect]
		if js == "" {
			js = "TEXT"
		}
		viaGORM := backfillMatchesCreate(t, db, "btraw", "raw "+js+", raw_t TEXT", "id, raw, raw_t", 4,
			func(id int64, src string) any {
				m := BtRawV2{ID: id, Src: src, Stamp: model.Stamp{ObjVersion: st20}}
				if err := m.TandemUpgrade(rel10); err != nil {
					t.Fatal(err)
				}
				return &m
			}, &BtRawV2{})
		if viaGORM == 0 {
			t.Error("no UPDATE of btraw went through GORM: an empty json.RawMessage would be written as ''")
		}
	})
}

// backfillMatchesCreate creates table (id, src, obj_version) with rows
// 1..n stamped 1.0 and expands 2.0 with the columns colDefs, backfills it
// with the Go converters of m, and checks, column by column (cols), that
// the rows equal those GORM's Create writes into table_ref from the models
// converted (returns a converted, 2.0-stamped model). It returns how many
// UPDATEs of table went through GORM rather than to the driver directly.
func backfillMatchesCreate(t *testing.T, db *dbtest.DB, table, colDefs, cols string, n int64, converted func(id int64, src string) any, m any) int {
	t.Helper()
	ctx := t.Context()
	r := expandedTable(t, db, table, "src VARCHAR(50)", colDefs, m, migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 3}))
	db.Exec(t, "CREATE TABLE "+table+"_ref (id BIGINT NOT NULL PRIMARY KEY, src VARCHAR(50), obj_version BIGINT NOT NULL DEFAULT 0, "+colDefs+")")
	for id := int64(1); id <= n; id++ {
		src := fmt.Sprintf("s%d'?\"", id)
		db.Exec(t, "INSERT INTO "+table+" (id, src, obj_version) VALUES (?, ?, ?)", id, src, st10)
		if err := db.Gorm.Table(table + "_ref").Create(converted(id, src)).Error; err != nil {
			t.Fatalf("GORM Create of reference row %d: %v", id, err)
		}
	}
	var viaGORM atomic.Int64
	name := "test:count_" + table
	if err := db.Gorm.Callback().Raw().Before("gorm:raw").Register(name, func(tx *gorm.DB) {
		if q := tx.Statement.SQL.String(); strings.Contains(q, "UPDATE") && strings.Contains(q, table) {
			viaGORM.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Gorm.Callback().Raw().Remove(name) }()
	rep, err := r.Migrate(ctx, rel20)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, b := range rep.Backfill {
		if b.Table == table {
			wantEqual(t, "rows converted", b.Rows, n)
		}
	}
	wantEqual(t, "rows at 2.0", db.QueryInt(t, "SELECT COUNT(*) FROM "+table+" WHERE obj_version = ?", st20), n)
	got, want := btRead(t, db, table, cols), btRead(t, db, table+"_ref", cols)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := strings.Split(got[i], "\t"), strings.Split(want[i], "\t")
		for k := range g {
			if k < len(w) && g[k] != w[k] {
				t.Errorf("row %d: backfill wrote %s, GORM Create wrote %s", i+1, g[k], w[k])
			}
		}
	}
	return int(viaGORM.Load())
}

// BtDocV2 moves a JSON document held as text into a jsonb column; an
// empty text means no document.
type BtDocV2 struct {
	ID  int64           `gorm:"primaryKey;autoIncrement:false"`
	Old string          `tandem:"deprecated=2.0"`
	Doc json.RawMessage `gorm:"type:jsonb" tandem:"added=2.0"`
	model.Stamp
}

func (BtDocV2) TableName() string { return "btdocs" }

func (m *BtDocV2) TandemUpgrade(versions.Version) error { m.Doc = json.RawMessage(m.Old); return nil }
func (m *BtDocV2) TandemDowngrade() error               { m.Old = string(m.Doc); return nil }

// TestBackfillEmptyRawJSONB: an empty (non-nil) json.RawMessage is
// NULL when GORM binds it (an empty slice that is not []byte renders as
// "(NULL)"); sent to pgx directly it is ” and a jsonb column refuses it.
func TestBackfillEmptyRawJSONB(t *testing.T) {
	db := dbtest.New(t, "postgres")
	ctx := t.Context()
	r := expandedTable(t, db, "btdocs", "old TEXT", "doc JSONB", &BtDocV2{})
	db.Exec(t, `INSERT INTO btdocs (id, old, obj_version) VALUES (1, '{"a": 1}', ?), (2, '', ?)`, st10, st10)
	// GORM writes the same model value as NULL.
	if err := db.Gorm.Create(&BtDocV2{ID: 3, Doc: json.RawMessage(""), Stamp: model.Stamp{ObjVersion: st20}}).Error; err != nil {
		t.Fatalf("GORM Create: %v", err)
	}
	if _, err := r.Migrate(ctx, rel20); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	wantEqual(t, "rows with a NULL doc", db.QueryInt(t, "SELECT COUNT(*) FROM btdocs WHERE doc IS NULL"), int64(2))
}

// expandedTable makes release 1.0's table (id BIGINT key, the columns
// oldCols, obj_version) and expands 2.0 with the columns addCols (", "
// between them), through a runner with the model m and opts, which it
// returns; m is registered as the compat plugin would.
func expandedTable(t *testing.T, db *dbtest.DB, table, oldCols, addCols string, m any, opts ...migrations.Option) *migrations.Runner {
	t.Helper()
	var adds []string
	for _, c := range strings.Split(addCols, ", ") {
		adds = append(adds, "ALTER TABLE "+table+" ADD COLUMN "+c+";\n")
	}
	f := files{
		"1.0_baseline.sql":        "CREATE TABLE " + table + " (id BIGINT NOT NULL PRIMARY KEY, " + oldCols + ", obj_version BIGINT NOT NULL DEFAULT 0);\n",
		"2.0_expand01_fields.sql": strings.Join(adds, ""),
	}
	r := newRunner(t, db.Gorm, f, append([]migrations.Option{migrations.WithModels(m)}, opts...)...)
	if _, err := r.Expand(t.Context(), rel20); err != nil {
		t.Fatalf("expand: %v", err)
	}
	registerPerson(t, db.Gorm, m)
	return r
}
