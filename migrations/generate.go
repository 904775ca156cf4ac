package migrations

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// ErrNoModels is returned (wrapped) when the model registry holds no model
// of the release asked about.
var ErrNoModels = errors.New("migrations: no model of the release is registered")

// genDefaultType is the column type a generated ADD COLUMN uses when the
// live database cannot tell: the most permissive text type of each dialect.
var genDefaultType = map[dialect.Name]string{
	dialect.Postgres: "text",
	dialect.MySQL:    "varchar(255)",
	dialect.SQLite:   "TEXT",
}

// genFile is one file GenerateFiles writes.
type genFile struct {
	name    string
	content string
}

// genColumn is one column of a generated statement.
type genColumn struct {
	name    string
	typ     string // the type to add it with, or the type it had (a dropped column)
	live    bool   // typ comes from the live database's catalog
	missing bool   // a dropped column the live database does not have
}

// GenerateFiles writes into dir, for review, the expand files (ADD COLUMN,
// nullable, for the fields the models of rel declare added=rel) and the
// contract files (DROP COLUMN for those they declare deprecated=rel) of
// release rel, one file per table and phase for each dialect, from the
// model registry (tandem_models) of the runner's database. They are named
// like 2.0_expand02_add_customers_columns.postgres.sql and
// 2.0_contract01_drop_customers_columns.mysql.sql, numbered after the
// migrations of rel the runner's source already has, so they do not collide
// with them. A column an existing migration of rel already adds (expand) or
// drops (contract) on a dialect is left out of that dialect's file.
//
// Types come from the live database's catalog for the files of its own
// dialect when the column exists there; otherwise an ADD COLUMN gets a
// permissive default (text, varchar(255), TEXT) under a "-- TODO: check
// the type" comment. A contract file notes each dropped column's type, so a
// reviewer knows what a restore from the archive needs.
//
// It returns the paths written (none when there is nothing to generate). It
// refuses, writing nothing, when one of the files exists already; the error
// wraps fs.ErrExist. It creates dir when missing. It changes nothing in the
// database.
func (r *Runner) GenerateFiles(ctx context.Context, rel versions.Version, dir string) ([]string, error) {
	if rel.IsZero() {
		return nil, errors.New("migrations: generate: a release is required (--release)")
	}
	if dir == "" {
		return nil, errors.New("migrations: generate: no directory given")
	}
	db := r.db.WithContext(ctx)
	docs, err := registeredDocs(ctx, db, rel)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: release %s has no entry in %s\nhint: start an instance of %s with the compat plugin; it registers its models at start-up",
			ErrNoModels, rel, store.ModelsTable, rel)
	}
	var files []genFile
	seq := map[versions.Phase]int{versions.PhaseExpand: r.genLastSeq(rel, versions.PhaseExpand), versions.PhaseContract: r.genLastSeq(rel, versions.PhaseContract)}
	for _, doc := range docs {
		live, err := liveSchemaColumns(ctx, db, r.dialect, doc.Table)
		if err != nil {
			return nil, err
		}
		for _, ph := range []versions.Phase{versions.PhaseExpand, versions.PhaseContract} {
			cols := doc.AddedIn(rel.String())
			if ph == versions.PhaseContract {
				cols = doc.DeprecatedIn(rel.String())
			}
			if len(cols) == 0 {
				continue
			}
			todo := map[dialect.Name][]genColumn{}
			some := false
			for _, d := range dialect.Names() {
				done := r.genHandled(d, rel, ph, doc.Table)
				for _, c := range cols {
					if done[""] || done[strings.ToLower(c)] {
						continue
					}
					todo[d] = append(todo[d], r.genColumnOf(d, ph, c, live))
					some = true
				}
			}
			if !some {
				continue
			}
			seq[ph]++
			id := versions.MigrationID{Release: rel, Phase: ph, Seq: seq[ph]}
			verb := "add"
			if ph == versions.PhaseContract {
				verb = "drop"
			}
			slug := verb + "_" + genSlug(doc.Table) + "_columns"
			for _, d := range dialect.Names() {
				files = append(files, genFile{
					name:    fmt.Sprintf("%s_%s.%s.sql", id, slug, d),
					content: genSQL(d, rel, ph, doc, todo[d], r.dialect),
				})
			}
		}
	}
	var exist []string
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
			exist = append(exist, f.name)
		}
	}
	if len(exist) > 0 {
		return nil, fmt.Errorf("migrations: generate into %s: %w: %s; nothing was written\nhint: review and move the earlier files, or write into an empty directory", dir, fs.ErrExist, strings.Join(exist, ", "))
	}
	if len(files) > 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("migrations: generate: %w", err)
		}
	}
	written := []string{}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := genWrite(path, f.content); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// genWrite creates path with content, refusing to overwrite it.
func genWrite(path, content string) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("migrations: generate: %w", err)
	}
	if _, err := fh.WriteString(content); err != nil {
		_ = fh.Close()
		return fmt.Errorf("migrations: generate: write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("migrations: generate: write %s: %w", path, err)
	}
	return nil
}

// genLastSeq returns the last number of rel's migrations of phase ph.
func (r *Runner) genLastSeq(rel versions.Version, ph versions.Phase) int {
	n := 0
	for _, m := range r.src.Migrations() {
		if m.ID.Release == rel && m.ID.Phase == ph {
			n = max(n, m.ID.Seq)
		}
	}
	return n
}

// genHandled returns the columns of table that the source's migrations of
// rel and phase ph already add (expand) or drop (contract) on dialect d,
// lower-cased; "" stands for the whole table dropped.
func (r *Runner) genHandled(d dialect.Name, rel versions.Version, ph versions.Phase, table string) map[string]bool {
	want := scopeAdd
	if ph == versions.PhaseContract {
		want = scopeDrop
	}
	done := map[string]bool{}
	for _, m := range r.src.Migrations() {
		if m.ID.Release != rel || m.ID.Phase != ph || !m.Serves(d) {
			continue
		}
		stmts, _, err := m.Statements(d)
		if err != nil {
			continue
		}
		for _, st := range stmts {
			for _, t := range scopeParse(d, st.SQL) {
				if !strings.EqualFold(t.Table, table) {
					continue
				}
				if t.Action == want {
					done[strings.ToLower(t.Column)] = true
				}
				if t.Action == scopeDropTable && ph == versions.PhaseContract {
					done[""] = true
				}
			}
		}
	}
	return done
}

// genColumnOf describes column c of a generated statement for dialect d;
// live is the table's catalog in the runner's database.
func (r *Runner) genColumnOf(d dialect.Name, ph versions.Phase, c string, live []liveColumn) genColumn {
	gc := genColumn{name: c}
	lc := liveFind(live, c)
	if d == r.dialect && lc != nil && lc.Type != "" {
		gc.typ, gc.live = lc.Type, true
		if ph == versions.PhaseContract && lc.NotNull {
			gc.typ += " NOT NULL"
		}
	}
	if ph == versions.PhaseContract {
		gc.missing = d == r.dialect && lc == nil
		return gc
	}
	if gc.typ == "" {
		gc.typ = genDefaultType[d]
	}
	return gc
}

// genSlug makes a table name fit a migration file's slug.
func genSlug(table string) string {
	b := []byte(table)
	for i, c := range b {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// genSQL writes one generated file. On PostgreSQL and MySQL one ALTER TABLE
// carries every column (on MySQL one statement is all or nothing); SQLite
// takes one column per ALTER TABLE.
func genSQL(d dialect.Name, rel versions.Version, ph versions.Phase, doc store.SpecDoc, cols []genColumn, liveDialect dialect.Name) string {
	var b strings.Builder
	q := func(s string) string { return dialect.QuoteIdent(d, s) }
	fmt.Fprintf(&b, "-- Generated by 'tandem plan --release %s --write' from the model registry (%s).\n", rel, store.ModelsTable)
	if ph == versions.PhaseExpand {
		fmt.Fprintf(&b, "-- Review it before use. It adds to table %s the columns that model %s of %s\n", doc.Table, doc.Model, rel)
		fmt.Fprintf(&b, "-- declares added=%s. They are nullable: the previous release keeps writing rows without them.\n", rel)
	} else {
		fmt.Fprintf(&b, "-- Review it before use. It drops from table %s the columns that model %s of %s\n", doc.Table, doc.Model, rel)
		fmt.Fprintf(&b, "-- declares deprecated=%s. 'tandem contract' archives their values first unless run with\n", rel)
		b.WriteString("-- --no-archive; 'tandem archive list' shows the archives.\n")
	}
	if len(cols) == 0 {
		fmt.Fprintf(&b, "-- Nothing to do on %s: the existing migrations of %s already handle these columns.\n", d, rel)
		return b.String()
	}
	if ph == versions.PhaseContract {
		for _, c := range cols {
			switch {
			case c.live:
				fmt.Fprintf(&b, "-- %s.%s is %s in the %s database this was generated from.\n", doc.Table, c.name, c.typ, liveDialect)
			case c.missing:
				fmt.Fprintf(&b, "-- NOTE: %s.%s does not exist in the %s database this was generated from.\n", doc.Table, c.name, liveDialect)
			}
		}
		if d == dialect.SQLite {
			b.WriteString("-- SQLite cannot drop a column that is indexed or part of a key or constraint: drop such an index first.\n")
		}
	}
	action := func(c genColumn) string {
		if ph == versions.PhaseContract {
			return "DROP COLUMN " + q(c.name)
		}
		return "ADD COLUMN " + q(c.name) + " " + c.typ
	}
	todo := func(c genColumn, indent string) {
		if ph == versions.PhaseExpand && !c.live {
			b.WriteString(indent + "-- TODO: check the type\n")
		}
	}
	if d == dialect.SQLite {
		for _, c := range cols {
			todo(c, "")
			fmt.Fprintf(&b, "ALTER TABLE %s %s;\n", q(doc.Table), action(c))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "ALTER TABLE %s\n", q(doc.Table))
	for i, c := range cols {
		todo(c, "  ")
		sep := ","
		if i == len(cols)-1 {
			sep = ";"
		}
		fmt.Fprintf(&b, "  %s%s\n", action(c), sep)
	}
	return b.String()
}
