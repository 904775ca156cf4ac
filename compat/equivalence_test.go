package compat_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/model"
)

// The Eq* models use no tandem feature except EqGadget, which embeds
// model.Stamp and has no transitional field. An author has many books; a
// book belongs to its author and to a publisher, has many tags through a
// join table, is soft-deleted, and runs hooks.

type EqPublisher struct {
	ID   uint
	Name string `gorm:"size:64;uniqueIndex"`
}

type EqAuthor struct {
	ID        uint
	Name      string   `gorm:"size:64;uniqueIndex"`
	Books     []EqBook `gorm:"foreignKey:AuthorID"`
	CreatedAt time.Time
}

type EqBook struct {
	ID          uint
	Title       string `gorm:"size:100"`
	Slug        string `gorm:"size:120"`
	Pages       int
	AuthorID    uint
	Author      *EqAuthor
	PublisherID *uint
	Publisher   *EqPublisher
	Tags        []EqTag `gorm:"many2many:eq_book_tags"`
	Shelf       string  `gorm:"-"` // set by AfterFind
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeletedAt   gorm.DeletedAt `gorm:"index"`
}

type EqTag struct {
	ID   uint
	Name string `gorm:"size:32;uniqueIndex"`
}

type EqCounter struct {
	Code string `gorm:"primaryKey;size:32"`
	N    int
	Note string `gorm:"size:64"`
}

type EqGadget struct {
	ID   uint
	Name string `gorm:"size:64;uniqueIndex"`
	Qty  int
	model.Stamp
}

var (
	errForbidden = errors.New("forbidden title")
	errTooBig    = errors.New("too big to delete")
)

func (b *EqBook) BeforeSave(tx *gorm.DB) error { hook(tx, "BeforeSave %q", b.Title); return nil }

func (b *EqBook) BeforeCreate(tx *gorm.DB) error {
	if b.Title == "Forbidden" {
		return errForbidden
	}
	b.Slug = strings.ReplaceAll(strings.ToLower(b.Title), " ", "-")
	hook(tx, "BeforeCreate %q slug %q", b.Title, b.Slug)
	return nil
}

func (b *EqBook) AfterCreate(tx *gorm.DB) error {
	hook(tx, "AfterCreate %q id %d", b.Title, b.ID)
	return nil
}

func (b *EqBook) BeforeUpdate(tx *gorm.DB) error {
	hook(tx, "BeforeUpdate %q pages %d changed(Pages)=%v", b.Title, b.Pages, tx.Statement.Changed("Pages"))
	return nil
}

func (b *EqBook) AfterUpdate(tx *gorm.DB) error { hook(tx, "AfterUpdate %q", b.Title); return nil }

func (b *EqBook) BeforeDelete(tx *gorm.DB) error {
	if b.Pages > 1000 {
		return errTooBig
	}
	hook(tx, "BeforeDelete %q", b.Title)
	return nil
}

func (b *EqBook) AfterDelete(tx *gorm.DB) error { hook(tx, "AfterDelete %q", b.Title); return nil }

func (b *EqBook) AfterFind(tx *gorm.DB) error {
	b.Shelf = fmt.Sprintf("%s/%d", b.Slug, b.Pages)
	hook(tx, "AfterFind book %d", b.ID)
	return nil
}

func (a *EqAuthor) BeforeCreate(tx *gorm.DB) error {
	a.Name = strings.TrimSpace(a.Name)
	hook(tx, "BeforeCreate author %q", a.Name)
	return nil
}

func (a *EqAuthor) AfterFind(tx *gorm.DB) error { hook(tx, "AfterFind author %d", a.ID); return nil }

func minPages(n int) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB { return db.Where("pages >= ?", n) }
}

func page(n, size int) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB { return db.Offset((n - 1) * size).Limit(size) }
}

func byID(db *gorm.DB) *gorm.DB { return db.Order("id") }

// outcome is everything a run of the scenario observed.
type outcome struct {
	Steps   []string        // each step's error, RowsAffected and values, and the hooks it ran
	Failed  map[string]bool // the steps that returned an error
	SQL     []string        // every statement's SQL text and number of bound values
	Stamped []string        // the steps on the stamped model
}

// recorder collects an outcome. It travels in the context of the session
// the scenario uses, so hooks and callbacks find it and the plugin's own
// statements (with their own context) are not recorded.
type recorder struct {
	res     outcome
	stamped bool
}

type recorderKey struct{}

func recorderOf(db *gorm.DB) *recorder {
	if db.Statement == nil || db.Statement.Context == nil {
		return nil
	}
	r, _ := db.Statement.Context.Value(recorderKey{}).(*recorder)
	return r
}

func (r *recorder) add(line string) {
	if r.stamped {
		r.res.Stamped = append(r.res.Stamped, line)
	} else {
		r.res.Steps = append(r.res.Steps, line)
	}
}

func hook(tx *gorm.DB, format string, args ...any) {
	if r := recorderOf(tx); r != nil {
		r.add("  hook " + fmt.Sprintf(format, args...))
	}
}

// step records a finished statement: its error, RowsAffected and values.
func (r *recorder) step(name string, tx *gorm.DB, values ...any) {
	r.record(name, tx.Error, fmt.Sprintf(" rows=%d", tx.RowsAffected), values)
}

// note records the outcome of a call that is not a statement.
func (r *recorder) note(name string, err error, values ...any) {
	r.record(name, err, "", values)
}

func (r *recorder) record(name string, err error, rows string, values []any) {
	line := name + ": err=<nil>" + rows
	if err != nil {
		line = name + ": err=" + err.Error() + rows
		if r.res.Failed == nil {
			r.res.Failed = map[string]bool{}
		}
		r.res.Failed[name] = true
	}
	for _, v := range values {
		line += " " + dump(v)
	}
	r.add(line)
}

// savepointName matches the names GORM gives the savepoints of nested
// transactions, which change from run to run.
var savepointName = regexp.MustCompile(`\bsp(0x[0-9a-f]+|[0-9]+)\b`)

// sqlTracer is a GORM logger that records the SQL text and the number of
// bound values of each statement run in a recorder's context. GORM hands a
// logger's ParamsFilter the statement before it interpolates the values.
type sqlTracer struct{ logger.Interface }

func (l sqlTracer) LogMode(logger.LogLevel) logger.Interface { return l }

func (l sqlTracer) Trace(ctx context.Context, _ time.Time, fc func() (string, int64), _ error) {
	if r, _ := ctx.Value(recorderKey{}).(*recorder); r != nil && !r.stamped {
		fc()
	}
}

func (l sqlTracer) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	if r, _ := ctx.Value(recorderKey{}).(*recorder); r != nil && !r.stamped {
		r.res.SQL = append(r.res.SQL, fmt.Sprintf("%s [%d vars]", savepointName.ReplaceAllString(sql, "sp*"), len(params)))
	}
	return sql, params
}

// scenario runs a fixed sequence of GORM operations through base on empty
// tables and returns what it observed.
func scenario(t *testing.T, base *gorm.DB) outcome {
	t.Helper()
	r := &recorder{}
	models := []any{&EqPublisher{}, &EqAuthor{}, &EqBook{}, &EqTag{}, &EqCounter{}, &EqGadget{}}
	r.note("AutoMigrate", base.AutoMigrate(models...))
	for _, m := range append(models, "eq_book_tags") {
		cts, err := base.Migrator().ColumnTypes(m)
		var cols []string
		for _, c := range cts {
			cols = append(cols, c.Name())
		}
		sort.Strings(cols)
		r.note(fmt.Sprintf("columns of %T", m), err, cols)
	}
	g := base.Session(&gorm.Session{Logger: sqlTracer{logger.Discard}}).WithContext(context.WithValue(context.Background(), recorderKey{}, r))

	// Associations saved with their owner: belongs-to, has-many, many2many.
	pubs := []EqPublisher{{Name: "Penguin"}, {Name: "Faber"}}
	r.step("create publishers", g.Create(&pubs), pubs)
	ursula := EqAuthor{Name: " Ursula ", Books: []EqBook{
		{Title: "A Wizard of Earthsea", Pages: 183, PublisherID: &pubs[0].ID, Tags: []EqTag{{Name: "fantasy"}, {Name: "classic"}}},
		{Title: "The Dispossessed", Pages: 387, Publisher: &pubs[1], Tags: []EqTag{{Name: "sf"}}},
	}}
	r.step("create author with books, publisher and tags", g.Create(&ursula), ursula)
	classic := ursula.Books[0].Tags[1]
	iain := EqAuthor{Name: "Iain", Books: []EqBook{
		{Title: "Consider Phlebas", Pages: 471, Tags: []EqTag{classic, {Name: "space opera"}}},
		{Title: "The Player of Games", Pages: 309, PublisherID: &pubs[1].ID},
		{Title: "Tome", Pages: 1200},
	}}
	r.step("create author reusing a tag", g.Create(&iain), iain)
	r.step("create refused by a hook", g.Create(&EqBook{Title: "Forbidden", AuthorID: iain.ID}))
	r.step("create violating a unique index", g.Create(&EqTag{Name: "sf"}))

	// Queries.
	var b EqBook
	r.step("First", g.First(&b), b)
	b = EqBook{}
	r.step("Last", g.Last(&b), b)
	b = EqBook{}
	r.step("Take", g.Where("title = ?", "Tome").Take(&b), b)
	b = EqBook{}
	r.step("First not found", g.First(&b, "title = ?", "Missing"), b)
	var books []EqBook
	r.step("Find with struct condition", g.Order("id").Find(&books, EqBook{AuthorID: iain.ID}), books)
	var authors []EqAuthor
	r.step("Preload nested", g.Preload("Books", byID).Preload("Books.Tags", byID).Preload("Books.Publisher").Order("id").Find(&authors), authors)
	books = nil
	r.step("Preload associations", g.Preload(clause.Associations).Order("id").Find(&books), books)
	books = nil
	r.step("Joins", g.Joins("Publisher").Joins("Author").Order("eq_books.id").Find(&books), books)
	books = nil
	r.step("Joins with condition", g.Joins("Publisher", g.Where(&EqPublisher{Name: "Faber"})).Order("eq_books.id").Find(&books), books)
	books = nil
	r.step("InnerJoins", g.InnerJoins("Author", g.Where(&EqAuthor{Name: "Iain"})).Order("eq_books.id").Find(&books), books)
	books = nil
	r.step("raw Joins", g.Joins("JOIN eq_authors ON eq_authors.id = eq_books.author_id").Where("eq_authors.name = ?", "Ursula").Order("eq_books.id").Find(&books), books)
	books = nil
	r.step("Scopes", g.Scopes(minPages(300), page(1, 2)).Order("id").Find(&books), books)
	var n int64
	r.step("Count with a scope", g.Model(&EqBook{}).Scopes(minPages(300)).Count(&n), n)
	var titles []string
	r.step("Pluck", g.Model(&EqBook{}).Order("title").Pluck("title", &titles), titles)
	var authorIDs []uint
	r.step("Distinct Pluck", g.Model(&EqBook{}).Distinct().Order("author_id").Pluck("author_id", &authorIDs), authorIDs)
	type perAuthor struct {
		AuthorID uint
		Books    int
		Pages    int
	}
	var stats []perAuthor
	r.step("Group Having Scan", g.Model(&EqBook{}).Select("author_id, count(*) AS books, sum(pages) AS pages").
		Group("author_id").Having("count(*) > ?", 1).Order("author_id").Scan(&stats), stats)

	// Updates.
	player, tome := iain.Books[1], iain.Books[2]
	r.step("Updates struct", g.Model(&player).Updates(EqBook{Pages: 310}), player)
	r.step("Updates map", g.Model(&player).Updates(map[string]any{"title": "The Player of Games (2nd ed.)", "pages": 0}), player)
	r.step("Update", g.Model(&player).Update("pages", 311), player)
	r.step("UpdateColumn with an expression", g.Model(&player).UpdateColumn("pages", gorm.Expr("pages + ?", 1)))
	r.step("Select and Updates", g.Model(&player).Select("Title").Updates(EqBook{Title: "Player", Pages: 1}), player)
	player.Pages = 400
	r.step("Save", g.Save(&player), player)
	r.step("mass Updates", g.Model(&EqBook{}).Where("pages < ?", 400).Updates(map[string]any{"pages": gorm.Expr("pages * 2")}))
	r.step("Update without conditions", g.Model(&EqBook{}).Update("pages", 1))

	// Soft delete.
	r.step("soft Delete", g.Delete(&player), player)
	books = nil
	r.step("Find leaves soft-deleted rows out", g.Order("id").Find(&books), books)
	r.step("Count leaves soft-deleted rows out", g.Model(&EqBook{}).Count(&n), n)
	books = nil
	r.step("Unscoped Find", g.Unscoped().Where("deleted_at IS NOT NULL").Find(&books), books)
	r.step("restore", g.Unscoped().Model(&player).Update("deleted_at", nil), player)
	r.step("Delete refused by a hook", g.Delete(&tome), tome)
	r.step("Delete by condition", g.Where("pages > ? AND pages < ?", 700, 1000).Delete(&EqBook{}))
	r.step("Delete without conditions", g.Delete(&EqBook{}))
	r.step("Unscoped Delete", g.Unscoped().Delete(&player), player)

	// Association mode.
	earthsea := ursula.Books[0]
	tags := g.Model(&earthsea).Association("Tags")
	r.note("Association Count", tags.Error, tags.Count())
	r.note("Association Append", tags.Append(&EqTag{Name: "award"}), earthsea.Tags)
	r.note("Association Delete", tags.Delete(&classic), earthsea.Tags)
	var found []EqTag
	r.note("Association Find", g.Model(&earthsea).Order("id").Association("Tags").Find(&found), found)
	r.note("Association Replace", g.Model(&earthsea).Association("Tags").Replace([]EqTag{classic}), earthsea.Tags)
	books = nil
	r.note("has-many Association Find", g.Model(&iain).Order("id").Association("Books").Find(&books), books)

	// Transactions and savepoints.
	r.note("Transaction commits", g.Transaction(func(tx *gorm.DB) error {
		r.step("  create", tx.Create(&EqTag{Name: "committed"}))
		return nil
	}))
	r.note("Transaction rolls back", g.Transaction(func(tx *gorm.DB) error {
		r.step("  create", tx.Create(&EqTag{Name: "rolled back"}))
		return errors.New("changed my mind")
	}))
	r.note("nested Transaction", g.Transaction(func(tx *gorm.DB) error {
		r.step("  outer create", tx.Create(&EqTag{Name: "outer"}))
		r.note("  inner rolls back", tx.Transaction(func(tx2 *gorm.DB) error {
			r.step("    inner create", tx2.Create(&EqTag{Name: "inner"}))
			return errors.New("inner fails")
		}))
		r.note("  inner commits", tx.Transaction(func(tx2 *gorm.DB) error {
			r.step("    inner create", tx2.Create(&EqTag{Name: "inner kept"}))
			return nil
		}))
		return nil
	}))
	tx := g.Begin()
	r.step("Begin", tx)
	r.step("create in manual transaction", tx.Create(&EqTag{Name: "manual"}))
	r.step("SavePoint", tx.SavePoint("before_extra"))
	r.step("create after the savepoint", tx.Create(&EqTag{Name: "extra"}))
	r.step("RollbackTo", tx.RollbackTo("before_extra"))
	r.step("Commit", tx.Commit())
	var tagNames []string
	r.step("tags after the transactions", g.Model(&EqTag{}).Order("name").Pluck("name", &tagNames), tagNames)
	for _, name := range []string{"committed", "outer", "inner kept", "manual"} {
		if !slices.Contains(tagNames, name) {
			t.Errorf("tag %q was committed but is missing: %q", name, tagNames)
		}
	}
	for _, name := range []string{"rolled back", "inner", "extra"} {
		if slices.Contains(tagNames, name) {
			t.Errorf("tag %q was rolled back but is there: %q", name, tagNames)
		}
	}

	// FindInBatches.
	var batch []EqBook
	r.step("FindInBatches", g.Where("pages > ?", 0).FindInBatches(&batch, 2, func(tx *gorm.DB, i int) error {
		r.step(fmt.Sprintf("  batch %d", i), tx, batch)
		return nil
	}))
	r.step("FindInBatches stopped by its function", g.FindInBatches(&batch, 1, func(tx *gorm.DB, i int) error {
		if i == 2 {
			return errors.New("stop at batch 2")
		}
		r.step(fmt.Sprintf("  batch %d", i), tx, batch)
		return nil
	}))
	r.step("FindInBatches saving each batch", g.FindInBatches(&batch, 2, func(tx *gorm.DB, i int) error {
		for j := range batch {
			batch[j].Pages++
		}
		res := tx.Save(&batch)
		r.step(fmt.Sprintf("  save batch %d", i), res, batch)
		return res.Error
	}))

	// Upserts.
	code := []clause.Column{{Name: "code"}}
	c := EqCounter{Code: "a", N: 1, Note: "first"}
	r.step("Create counter", g.Create(&c), c)
	c = EqCounter{Code: "a", N: 5, Note: "all"}
	r.step("upsert UpdateAll", g.Clauses(clause.OnConflict{Columns: code, UpdateAll: true}).Create(&c), c)
	c = EqCounter{Code: "a", N: 99, Note: "columns"}
	r.step("upsert DoUpdates columns", g.Clauses(clause.OnConflict{Columns: code, DoUpdates: clause.AssignmentColumns([]string{"note"})}).Create(&c), c)
	c = EqCounter{Code: "a", Note: "expression"}
	r.step("upsert DoUpdates expression", g.Clauses(clause.OnConflict{Columns: code, DoUpdates: clause.Assignments(map[string]any{
		"n": gorm.Expr("? + ?", clause.Column{Table: clause.CurrentTable, Name: "n"}, 10)})}).Create(&c), c)
	c = EqCounter{Code: "a", Note: "ignored"}
	r.step("upsert DoNothing", g.Clauses(clause.OnConflict{DoNothing: true}).Create(&c), c)
	cs := []EqCounter{{Code: "a", N: 7, Note: "batch"}, {Code: "b", N: 2, Note: "batch"}}
	r.step("upsert a slice", g.Clauses(clause.OnConflict{Columns: code, UpdateAll: true}).Create(&cs), cs)
	c = EqCounter{Code: "c", N: 3}
	r.step("Save a new key", g.Save(&c), c)
	r.step("upsert tags DoNothing", g.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoNothing: true}).
		Create(&[]EqTag{{Name: "sf"}, {Name: "new"}}))

	// FirstOrInit, FirstOrCreate, Attrs and Assign.
	var fc EqCounter
	r.step("FirstOrInit", g.Where(EqCounter{Code: "d"}).Attrs(EqCounter{N: 4}).FirstOrInit(&fc), fc)
	fc = EqCounter{}
	r.step("FirstOrCreate creates", g.Where(EqCounter{Code: "d"}).Attrs(EqCounter{N: 4}).FirstOrCreate(&fc), fc)
	fc = EqCounter{}
	r.step("FirstOrCreate finds", g.Where(EqCounter{Code: "d"}).Attrs(EqCounter{N: 40}).FirstOrCreate(&fc), fc)
	fc = EqCounter{}
	r.step("FirstOrCreate with Assign", g.Where(EqCounter{Code: "d"}).Assign(EqCounter{Note: "assigned"}).FirstOrCreate(&fc), fc)
	var octavia EqAuthor
	r.step("FirstOrCreate runs hooks", g.Where(EqAuthor{Name: "Octavia"}).FirstOrCreate(&octavia), octavia)

	// Raw SQL, Rows and maps.
	r.step("Exec", g.Exec("UPDATE eq_counters SET note = ? WHERE code = ?", "raw", "b"))
	titles = nil
	r.step("Raw Scan", g.Raw("SELECT title FROM eq_books WHERE deleted_at IS NULL ORDER BY id").Scan(&titles), titles)
	rows, err := g.Model(&EqBook{}).Where("pages > ?", 0).Order("id").Rows()
	books = nil
	for err == nil && rows.Next() {
		var rb EqBook
		err = g.ScanRows(rows, &rb)
		books = append(books, rb)
	}
	if rows != nil {
		err = errors.Join(err, rows.Err(), rows.Close())
	}
	r.note("Rows and ScanRows", err, books)
	var maps []map[string]any
	r.step("Find into maps", g.Model(&EqCounter{}).Order("code").Find(&maps), maps)

	// What the tables hold at the end.
	books, authors = nil, nil
	r.step("all books", g.Unscoped().Order("id").Find(&books), books)
	r.step("all authors", g.Order("id").Find(&authors), authors)
	var allTags []EqTag
	r.step("all tags", g.Order("id").Find(&allTags), allTags)
	var links []map[string]any
	r.step("all book tags", g.Table("eq_book_tags").Order("eq_book_id, eq_tag_id").Find(&links), links)
	var counters []EqCounter
	r.step("all counters", g.Order("code").Find(&counters), counters)

	// The stamped model without transitional fields.
	r.stamped = true
	lamp := EqGadget{Name: "lamp", Qty: 1}
	r.step("Create", g.Create(&lamp), lamp)
	more := []EqGadget{{Name: "desk", Qty: 2}, {Name: "chair", Qty: 4}}
	r.step("Create a slice", g.Create(&more), more)
	r.step("Updates map", g.Model(&lamp).Updates(map[string]any{"qty": 3}), lamp)
	r.step("Update", g.Model(&more[0]).Update("name", "standing desk"), more[0])
	more[1].Qty = 5
	r.step("Save", g.Save(&more[1]), more[1])
	id := []clause.Column{{Name: "id"}}
	r.step("upsert UpdateAll", g.Clauses(clause.OnConflict{Columns: id, UpdateAll: true}).Create(&EqGadget{ID: lamp.ID, Name: "lamp", Qty: 9}))
	r.step("upsert DoNothing", g.Clauses(clause.OnConflict{DoNothing: true}).Create(&EqGadget{ID: lamp.ID, Name: "lamp", Qty: 10}))
	var shelf EqGadget
	r.step("FirstOrCreate", g.Where(EqGadget{Name: "shelf"}).FirstOrCreate(&shelf), shelf)
	var gadgets []EqGadget
	r.step("Find", g.Order("id").Find(&gadgets), gadgets)
	r.step("Delete", g.Delete(&EqGadget{}, "name = ?", "chair"))
	type stampRow struct {
		ID         uint
		ObjVersion int64
	}
	var stamps []stampRow
	r.step("obj_version column", g.Raw("SELECT id, obj_version FROM eq_gadgets ORDER BY id").Scan(&stamps), stamps)
	return r.res
}

// dryRuns are statements whose SQL is compared without running them.
var dryRuns = []struct {
	name string
	op   func(g *gorm.DB) *gorm.DB
}{
	{"Create with associations", func(g *gorm.DB) *gorm.DB {
		return g.Create(&EqBook{Title: "Dry", AuthorID: 1, Tags: []EqTag{{Name: "dry"}}})
	}},
	{"Joins and a scope", func(g *gorm.DB) *gorm.DB {
		return g.Joins("Publisher").Joins("Author").Scopes(minPages(100)).Order("eq_books.id").Find(&[]EqBook{})
	}},
	{"Count", func(g *gorm.DB) *gorm.DB { var n int64; return g.Model(&EqBook{}).Where("author_id = ?", 1).Count(&n) }},
	{"Pluck", func(g *gorm.DB) *gorm.DB { var s []string; return g.Model(&EqBook{}).Order("title").Pluck("title", &s) }},
	{"Updates struct", func(g *gorm.DB) *gorm.DB { return g.Model(&EqBook{ID: 1}).Updates(EqBook{Title: "x", Pages: 2}) }},
	{"Updates map", func(g *gorm.DB) *gorm.DB {
		return g.Model(&EqBook{}).Where("pages < ?", 5).Updates(map[string]any{"pages": gorm.Expr("pages * 2")})
	}},
	{"soft Delete", func(g *gorm.DB) *gorm.DB { return g.Where("pages > ?", 1).Delete(&EqBook{}) }},
	{"Unscoped Delete", func(g *gorm.DB) *gorm.DB { return g.Unscoped().Delete(&EqBook{}, "id = ?", 1) }},
	{"upsert UpdateAll", func(g *gorm.DB) *gorm.DB {
		return g.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "code"}}, UpdateAll: true}).Create(&EqCounter{Code: "z", N: 1})
	}},
	{"upsert DoUpdates", func(g *gorm.DB) *gorm.DB {
		return g.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "code"}}, DoUpdates: clause.AssignmentColumns([]string{"note"})}).
			Create(&[]EqCounter{{Code: "y"}, {Code: "z"}})
	}},
}

// TestUnversionedModelsBehaveAsWithoutPlugin runs one scenario of GORM
// usage on a database without the plugin and on another with the plugin of
// 2.0: the results, the hooks that ran and the SQL sent are the same, and on
// the stamped model the only difference is the obj_version value.
func TestUnversionedModelsBehaveAsWithoutPlugin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		plain := scenario(t, db.Gorm)
		other := dbtest.New(t, db.Dialect)
		g, _ := plugged(t, other, release)
		with := scenario(t, g)

		// The scenario went as designed: only these steps fail.
		wantFailed := []string{"create refused by a hook", "create violating a unique index", "First not found",
			"Update without conditions", "Delete refused by a hook", "Delete without conditions",
			"Transaction rolls back", "  inner rolls back", "FindInBatches stopped by its function"}
		sort.Strings(wantFailed)
		var failed []string
		for name := range plain.Failed {
			failed = append(failed, name)
		}
		sort.Strings(failed)
		if !slices.Equal(failed, wantFailed) {
			t.Errorf("without the plugin, the failing steps are\n  %q\nwant\n  %q\nsteps:\n%s", failed, wantFailed, strings.Join(plain.Steps, "\n"))
		}
		if len(plain.SQL) < 50 || !slices.ContainsFunc(plain.Steps, func(s string) bool { return strings.HasPrefix(s, "  hook AfterFind book") }) {
			t.Errorf("the scenario traced %d statements and hooks %v", len(plain.SQL), plain.Steps)
		}

		diffLines(t, "steps", plain.Steps, with.Steps)
		diffLines(t, "SQL", plain.SQL, with.SQL)

		// The stamped model: obj_version is 0 without the plugin and the
		// release's stamp with it; everything else is the same.
		stampRE := regexp.MustCompile(`ObjVersion:(-?\d+)`)
		check := func(who string, lines []string, want int64) []string {
			out := make([]string, len(lines))
			seen := 0
			for i, l := range lines {
				for _, m := range stampRE.FindAllStringSubmatch(l, -1) {
					seen++
					if m[1] != strconv.FormatInt(want, 10) {
						t.Errorf("%s: obj_version %s, want %d, in\n  %s", who, m[1], want, l)
					}
				}
				out[i] = stampRE.ReplaceAllString(l, "ObjVersion:*")
			}
			if seen < 10 {
				t.Errorf("%s: only %d obj_version values observed", who, seen)
			}
			return out
		}
		diffLines(t, "stamped-model steps (obj_version aside)",
			check("without the plugin", plain.Stamped, 0), check("with the plugin", with.Stamped, release.Stamp()))

		for _, d := range dryRuns {
			want := d.op(db.Gorm.Session(&gorm.Session{DryRun: true}))
			got := d.op(g.Session(&gorm.Session{DryRun: true}))
			if want.Error != nil || got.Error != nil {
				t.Errorf("%s: dry run error %v without the plugin, %v with", d.name, want.Error, got.Error)
				continue
			}
			if want.Statement.SQL.Len() == 0 {
				t.Errorf("%s: no SQL", d.name)
			}
			if ws, gs := want.Statement.SQL.String(), got.Statement.SQL.String(); ws != gs {
				t.Errorf("%s: SQL with the plugin\n  %s\nwithout\n  %s", d.name, gs, ws)
			}
			if wn, gn := len(want.Statement.Vars), len(got.Statement.Vars); wn != gn {
				t.Errorf("%s: %d bound values with the plugin, %d without", d.name, gn, wn)
			}
		}
	})
}

// diffLines reports the lines where got differs from want.
func diffLines(t *testing.T, what string, want, got []string) {
	t.Helper()
	if reflect.DeepEqual(want, got) {
		return
	}
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(want), len(got)) && shown < 20; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d\n  without: %s\n  with:    %s\n", i, w, g)
			shown++
		}
	}
	t.Errorf("%s differ with the plugin (%d lines without, %d with):\n%s", what, len(want), len(got), b.String())
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	deletedAtType = reflect.TypeFor[gorm.DeletedAt]()
	tagsType      = reflect.TypeFor[[]EqTag]()
)

// dump renders a value deterministically: exported fields by name, times
// as set or zero (their values differ from run to run), soft-delete markers
// as live or deleted, map keys sorted, and tags by id (the order of a
// many2many is the database's, not GORM's).
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v))
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value) {
	if !v.IsValid() {
		b.WriteString("nil")
		return
	}
	switch v.Type() {
	case timeType:
		if v.Interface().(time.Time).IsZero() {
			b.WriteString("time(zero)")
		} else {
			b.WriteString("time(set)")
		}
		return
	case deletedAtType:
		if v.Interface().(gorm.DeletedAt).Valid {
			b.WriteString("deleted")
		} else {
			b.WriteString("live")
		}
		return
	case tagsType:
		tags := slices.Clone(v.Interface().([]EqTag))
		sort.Slice(tags, func(i, j int) bool { return tags[i].ID < tags[j].ID })
		v = reflect.ValueOf(tags)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Kind() == reflect.Pointer {
			b.WriteString("&")
		}
		dumpValue(b, v.Elem())
	case reflect.Struct:
		b.WriteString(v.Type().Name() + "{")
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(f.Name + ":")
			dumpValue(b, v.Field(i))
		}
		b.WriteString("}")
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(b, "%q", v.Bytes())
			return
		}
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(" ")
			}
			dumpValue(b, v.Index(i))
		}
		b.WriteString("]")
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		b.WriteString("map[")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(b, "%v:", k)
			dumpValue(b, v.MapIndex(k))
		}
		b.WriteString("]")
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v)
	}
}
