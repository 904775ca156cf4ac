package compat_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// directCustomer is CustomerV2 (its fields and converters) whose
// downgrade converter says that it reads only the added fields
// (model.DowngradeFromAdded).
type directCustomer struct{ CustomerV2 }

func (*directCustomer) TandemDowngradeFromAdded() {}

// TestDirectWrite: an update that sets every added field of a model whose
// downgrade reads only those is written in one statement, with no read of
// the row, by primary key and for many rows at once; an update of some of
// them still reads the row first.
func TestDirectWrite(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, ids := expandedWithThree(t, db)
		cur, p2, readsDuring := countingReads(t, db)

		// L(m), by primary key, on a row written by 1.0.
		n := readsDuring(func() error {
			return cur.Model(&directCustomer{CustomerV2{ID: ids[0]}}).Updates(directCustomer{CustomerV2{GivenName: "Augusta", FamilyName: "King"}}).Error
		})
		wantEqual(t, "reads for an update of every added field", n, int64(0))
		r := raw(t, db, ids[0])
		if str(r.Name) != "Augusta King" || str(r.GivenName) != "Augusta" || str(r.FamilyName) != "King" || r.ObjVersion != v2.Stamp() {
			t.Errorf("direct update: name %s given %s family %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
		var seen CustomerV1
		must(t, old.First(&seen, ids[0]).Error)
		wantEqual(t, "1.0 reads", seen.Name, "Augusta King")

		// L(m), many rows at once: no longer ErrUnconvertibleUpdate.
		res := cur.Model(&directCustomer{}).Where("id IN ?", ids[1:]).Updates(map[string]any{"given_name": "Anon", "family_name": "Ymous"})
		must(t, res.Error)
		wantEqual(t, "rows updated", res.RowsAffected, int64(2))
		for _, id := range ids[1:] {
			if r := raw(t, db, id); str(r.Name) != "Anon Ymous" || str(r.GivenName) != "Anon" || r.ObjVersion != v2.Stamp() {
				t.Errorf("mass update of row %d: name %s given %s stamp %d", id, str(r.Name), str(r.GivenName), r.ObjVersion)
			}
		}

		// Part of the added fields: the row is read (and upgraded) first.
		must(t, old.Model(&CustomerV1{ID: ids[2]}).Update("name", "Edsger Dijkstra").Error)
		n = readsDuring(func() error {
			return cur.Model(&directCustomer{CustomerV2{ID: ids[2]}}).Update("family_name", "D.").Error
		})
		wantEqual(t, "reads for an update of one added field", n, int64(1))
		if r := raw(t, db, ids[2]); str(r.Name) != "Edsger D." || str(r.GivenName) != "Edsger" || r.ObjVersion != v2.Stamp() {
			t.Errorf("partial update: name %s given %s stamp %d", str(r.Name), str(r.GivenName), r.ObjVersion)
		}
		// ... and without a key it is still refused.
		err := cur.Model(&directCustomer{}).Where("id > 0").Update("family_name", "X").Error
		if !errors.Is(err, compat.ErrUnconvertibleUpdate) {
			t.Errorf("mass update of one added field: %v", err)
		}

		// L(c): no downgrade, Name left as it was, the L(c) marker.
		setTo(t, db, p2, v2, versions.StateContractReady)
		must(t, old.Model(&CustomerV1{ID: ids[1]}).Update("name", "Grace Hopper").Error)
		n = readsDuring(func() error {
			return cur.Model(&directCustomer{CustomerV2{ID: ids[1]}}).Updates(directCustomer{CustomerV2{GivenName: "Grace", FamilyName: "Murray"}}).Error
		})
		wantEqual(t, "reads for an update of every added field in L(c)", n, int64(0))
		if r := raw(t, db, ids[1]); str(r.Name) != "Grace Hopper" || str(r.FamilyName) != "Murray" || r.ObjVersion != v2.MarkedStamp() {
			t.Errorf("L(c) direct update: name %s family %s stamp %d", str(r.Name), str(r.FamilyName), r.ObjVersion)
		}
	})
}

// TestFastWriteComparesWhatItKeeps: a partial update of a loaded model
// compares and sets only the transitional values it takes from the model.
// On a row already stamped 2.0, a concurrent change of the column the
// update sets does not send it back to the read (the update wins, as in
// plain GORM), a change of another added column does; on a row stamped 1.0
// the deprecated column holds the row's real value and is compared, even
// when the update sets it, so a concurrent 1.0 write is not lost.
func TestFastWriteComparesWhatItKeeps(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, ids := expandedWithThree(t, db)
		cur, _, readsDuring := countingReads(t, db)
		id := ids[0]
		set := func(given, family string) {
			t.Helper()
			must(t, cur.Model(&directCustomer{CustomerV2{ID: id}}).Updates(directCustomer{CustomerV2{GivenName: given, FamilyName: family}}).Error)
		}
		load := func() *directCustomer {
			t.Helper()
			var c directCustomer
			must(t, cur.First(&c, id).Error)
			return &c
		}
		want := func(what, name, given, family string) {
			t.Helper()
			if r := raw(t, db, id); str(r.Name) != name || str(r.GivenName) != given || str(r.FamilyName) != family || r.ObjVersion != v2.Stamp() {
				t.Errorf("%s: name %s given %s family %s stamp %d, want %s / %s / %s stamped 2.0",
					what, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion, name, given, family)
			}
		}

		set("Ada", "Lovelace")
		mine := load()
		set("Ada", "Byron") // another 2.0 writer, same column
		n := readsDuring(func() error { return cur.Model(mine).Update("family_name", "Noel").Error })
		wantEqual(t, "reads after a concurrent write of the column the update sets", n, int64(0))
		want("same column", "Ada Noel", "Ada", "Noel")

		mine = load()
		set("Augusta", "Noel") // another 2.0 writer, another added column
		n = readsDuring(func() error { return cur.Model(mine).Update("family_name", "King").Error })
		if n == 0 {
			t.Error("a concurrent write of another added column: the update did not fall back to reading the row")
		}
		want("another column", "Augusta King", "Augusta", "King")

		// 1.0 renames her; 2.0 loads the row (stamped 1.0, upgraded from
		// Name), 1.0 renames her again, then 2.0 updates the family name.
		// 1.0 leaves given_name as 2.0 last wrote it, Augusta, which is also
		// what 2.0 loaded: only Name shows the second rename.
		must(t, old.Model(&CustomerV1{ID: id}).Update("name", "Augusta Lovelace").Error)
		mine = load()
		must(t, old.Model(&CustomerV1{ID: id}).Update("name", "Grace Lovelace").Error)
		n = readsDuring(func() error { return cur.Model(mine).Update("family_name", "Byron").Error })
		if n == 0 {
			t.Error("a concurrent 1.0 write: the update did not fall back to reading the row")
		}
		want("concurrent 1.0 write", "Grace Byron", "Grace", "Byron")

		// An update that sets the deprecated Name on a row stamped 1.0: the
		// loaded added fields were upgraded from Name as it was, so Name
		// stays compared, and 1.0's rename in between is kept (in L(m) the
		// downgrade derives Name from the added fields).
		set("Ada", "Lovelace")
		must(t, old.Model(&CustomerV1{ID: id}).Update("email", "ada@example.org").Error) // restamped 1.0
		mine = load()
		must(t, old.Model(&CustomerV1{ID: id}).Update("name", "Grace Lovelace").Error)
		n = readsDuring(func() error { return cur.Model(mine).Update("name", "Ada King").Error })
		if n == 0 {
			t.Error("an update of Name after a concurrent 1.0 rename: the update did not fall back to reading the row")
		}
		want("Name set on a 1.0 row", "Grace Lovelace", "Grace", "Lovelace")
	})
}

// TestDirectWriteCountsColumnsOnce: a map update that names one added
// column twice (by its Go name and its column name) and leaves the other
// added column out does not set every added field: it is not written
// directly (which would write family_name from an empty model) but read,
// converted and written.
func TestDirectWriteCountsColumnsOnce(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db) // Ada Lovelace, stamped 1.0
		cur, _, readsDuring := countingReads(t, db)
		n := readsDuring(func() error {
			return cur.Model(&directCustomer{CustomerV2{ID: ids[0]}}).
				Updates(map[string]any{"GivenName": "Augusta", "given_name": "Augusta"}).Error
		})
		r := raw(t, db, ids[0])
		if str(r.FamilyName) != "Lovelace" || str(r.Name) != "Augusta Lovelace" {
			t.Errorf("update of given_name only (reads %d): name %q given %q family %q", n, str(r.Name), str(r.GivenName), str(r.FamilyName))
		}
	})
}

// countingReads opens a *gorm.DB with the plugin of 2.0 for directCustomer
// and returns it, the plugin, and a function that runs f and returns how
// many SELECTs from customers it sent. The plugin's background polling
// runs queries of its own, on its tables, which are not counted.
func countingReads(t *testing.T, db *dbtest.DB) (*gorm.DB, *compat.Plugin, func(f func() error) int64) {
	t.Helper()
	cur := db.Open(t)
	// The plugin reads a row for a partial update on the statement's
	// connection, past GORM's query callbacks; what every read reaches is
	// the logger.
	reads := &sqlCounter{Interface: logger.Discard, re: customersRead}
	cur.Logger = reads
	p2 := compat.New(v2, compat.WithModels(&directCustomer{}), compat.WithPollInterval(50*time.Millisecond))
	must(t, cur.Use(p2))
	t.Cleanup(func() { _ = p2.Close() })
	return cur, p2, func(f func() error) int64 {
		t.Helper()
		before := reads.n.Load()
		must(t, f())
		return reads.n.Load() - before
	}
}

// sqlCounter is a GORM logger that counts the statements matching re.
type sqlCounter struct {
	logger.Interface
	re *regexp.Regexp
	n  atomic.Int64
}

func (c *sqlCounter) LogMode(logger.LogLevel) logger.Interface { return c }

func (c *sqlCounter) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if sql, _ := fc(); c.re.MatchString(sql) {
		c.n.Add(1)
	}
}

// customersRead and customersUpdate match the SELECTs from and the UPDATEs
// of the customers table.
var (
	customersRead   = regexp.MustCompile("^SELECT .* FROM [`\"]customers[`\"]")
	customersUpdate = regexp.MustCompile("^UPDATE [`\"]customers[`\"]")
)

// wantEqual fails the test unless got equals want.
func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// expandedWithThree makes the database of 1.0 with three customers written
// by a 1.0 instance (returned, with their ids), then expands 2.0 (L(m)).
func expandedWithThree(t *testing.T, db *dbtest.DB) (*gorm.DB, []uint) {
	t.Helper()
	ctx := context.Background()
	must(t, db.Gorm.AutoMigrate(&CustomerV1{}))
	must(t, store.Ensure(ctx, db.Gorm))
	must(t, store.ForceState(ctx, db.Gorm, v1, versions.StateContracted, "test setup"))
	old, _ := plugged(t, db, v1, compat.WithModels(&CustomerV1{}))
	var ids []uint
	for _, n := range []string{"Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"} {
		c := CustomerV1{Name: n, Email: strings.ToLower(strings.Fields(n)[0]) + "@example.com"}
		must(t, old.Create(&c).Error)
		ids = append(ids, c.ID)
	}
	must(t, db.Gorm.AutoMigrate(&CustomerV2{}))
	must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanding, "test"))
	must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanded, "test"))
	return old, ids
}
