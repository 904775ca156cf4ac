package migrations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// ArchivePrefix begins the name of every archive table.
const ArchivePrefix = "tandem_archive_"

// ArchivesTable records, for each archive table, the table and the columns
// it holds, for which release, and when it was made.
const ArchivesTable = "tandem_archives"

// archiveMaxIdent is the longest identifier PostgreSQL keeps, in bytes
// (MySQL allows 64 characters): an archive name fits both.
const archiveMaxIdent = 63

// ArchiveTable names the archive of table's columns deprecated in rel:
// tandem_archive_<release with dots as _>_<table>, e.g.
// tandem_archive_2_0_customers. A name longer than 63 bytes (PostgreSQL's
// limit; MySQL's is 64) is cut and ends with _ and 8 hex digits of the
// SHA-256 of the full name, so two long names stay distinct.
func ArchiveTable(rel versions.Version, table string) string {
	return archiveFit(ArchivePrefix + strings.ReplaceAll(rel.String(), ".", "_") + "_" + table)
}

// archiveFit shortens name to archiveMaxIdent bytes with a hash suffix.
func archiveFit(name string) string {
	if len(name) <= archiveMaxIdent {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:4])
	cut := name[:archiveMaxIdent-len(h)-1]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return cut + "_" + h
}

// ArchiveInfo describes one archive table.
type ArchiveInfo struct {
	Table      string    `json:"table"`       // the archive table
	Source     string    `json:"source"`      // the table its values came from ("" when unrecorded)
	Release    string    `json:"release"`     // the release whose contract dropped them ("" when unrecorded)
	PrimaryKey []string  `json:"primary_key"` // key columns copied with the values
	Columns    []string  `json:"columns"`     // archived (dropped) columns
	Rows       int64     `json:"rows"`        // rows in the archive now
	ArchivedAt time.Time `json:"archived_at"` // when the archive was made (zero when unrecorded)
}

// archiveRecord is one row of tandem_archives.
type archiveRecord struct {
	Archive      string    `gorm:"column:archive_table;primaryKey;size:64"`
	Source       string    `gorm:"column:source_table;size:128;not null"`
	Release      string    `gorm:"column:release_name;size:32;not null"`
	ReleaseStamp int64     `gorm:"column:release_stamp;not null"`
	PrimaryKey   string    `gorm:"column:pk_columns;type:text;not null"`      // JSON array
	Columns      string    `gorm:"column:column_names;type:text;not null"`    // JSON array
	Rows         int64     `gorm:"column:row_count;not null;default:0"`       // rows when archived
	ArchivedAt   time.Time `gorm:"column:archived_at;not null"`               // store.Now()
	Actor        string    `gorm:"column:actor;size:255;not null;default:''"` // store.Actor()
}

// TableName implements GORM's tabler.
func (archiveRecord) TableName() string { return ArchivesTable }

func (a archiveRecord) columns() []string {
	var cols []string
	_ = json.Unmarshal([]byte(a.Columns), &cols)
	return cols
}

func (a archiveRecord) primaryKey() []string {
	var cols []string
	_ = json.Unmarshal([]byte(a.PrimaryKey), &cols)
	return cols
}

// Archive copies the primary key and the given columns of every row of
// table into its archive table, ArchiveTable(rel, table), and records in
// tandem_archives (created when missing) and in the journal what it holds.
// It returns the number of rows archived.
//
// The archive is made by CREATE TABLE ... AS SELECT (on MySQL CREATE TABLE
// ... (PRIMARY KEY (...)) SELECT), keyed like the source. On PostgreSQL and
// SQLite it takes part in the caller's transaction, so a contract that rolls
// back leaves no archive; on MySQL/MariaDB, where DDL commits at once, the
// archive is complete before Archive returns, whatever happens next.
//
// Re-running it for the same release and table replaces the archive's
// content, so a crashed contract can be retried. But when the table lacks
// some of the columns asked for, or some the earlier archive holds (a
// contract on MySQL dropped them before it stopped), rebuilding would lose
// their values: the earlier archive is then kept as it is, and its row count
// returned, provided it holds every column asked for; otherwise Archive
// refuses. Asking again for only the columns that remain is therefore safe.
func Archive(ctx context.Context, db *gorm.DB, rel versions.Version, table string, pk, columns []string) (int64, error) {
	d := dialect.Of(db)
	switch {
	case !d.Valid():
		return 0, fmt.Errorf("migrations: archive: unsupported dialect %q", d)
	case rel.IsZero():
		return 0, errors.New("migrations: archive: no release given")
	case table == "":
		return 0, errors.New("migrations: archive: no table given")
	case len(pk) == 0:
		return 0, fmt.Errorf("migrations: archive %s: no primary key given; an archive is keyed so that its values can be restored", table)
	}
	db = db.WithContext(ctx)
	name := ArchiveTable(rel, table)
	cols := archiveValueColumns(pk, columns)
	if len(cols) == 0 {
		return 0, fmt.Errorf("migrations: archive %s: no column to archive", table)
	}
	live, err := liveSchemaColumns(ctx, db, d, table)
	if err != nil {
		return 0, err
	}
	if len(live) == 0 {
		return 0, fmt.Errorf("migrations: archive %s: table %s does not exist", name, table)
	}
	if missing := liveMissing(live, pk); len(missing) > 0 {
		return 0, fmt.Errorf("migrations: archive %s: primary key column(s) %s not in table %s", name, strings.Join(missing, ", "), table)
	}
	rec, found, err := archiveEarlier(db, name)
	if err != nil {
		return 0, err
	}
	missing := liveMissing(live, cols)
	var gone []string // archived earlier, not asked for now, and dropped from table since
	if found {
		for _, c := range liveMissing(live, rec.columns()) {
			if !slices.ContainsFunc(missing, func(m string) bool { return strings.EqualFold(m, c) }) {
				gone = append(gone, c)
			}
		}
	}
	if len(missing) > 0 || len(gone) > 0 {
		return archiveKept(ctx, db, d, name, table, cols, missing, gone, rec, found)
	}
	if err := store.Ensure(ctx, db); err != nil {
		return 0, err
	}
	if err := ensureArchivesTable(db); err != nil {
		return 0, err
	}
	for _, q := range archiveDDL(d, name, table, pk, cols) {
		if err := db.Exec(q).Error; err != nil {
			return 0, fmt.Errorf("migrations: archive %s of %s into %s: %s: %w", strings.Join(cols, ", "), table, name, firstLine(q), err)
		}
	}
	n, err := archiveCount(db, d, name)
	if err != nil {
		return 0, err
	}
	pkJSON, _ := json.Marshal(pk)
	colJSON, _ := json.Marshal(cols)
	rec = archiveRecord{
		Archive: name, Source: table, Release: rel.String(), ReleaseStamp: rel.Stamp(),
		PrimaryKey: string(pkJSON), Columns: string(colJSON), Rows: n, ArchivedAt: store.Now(), Actor: store.Actor(),
	}
	if err := db.Clauses(clause.OnConflict{UpdateAll: true}).Create(&rec).Error; err != nil {
		return 0, fmt.Errorf("migrations: record archive %s: %w", name, err)
	}
	detail := fmt.Sprintf("archived %d row(s) of %s (%s, keyed by %s) into %s", n, table, strings.Join(cols, ", "), strings.Join(pk, ", "), name)
	if err := store.Journal(ctx, db, "archive", rel, detail); err != nil {
		return 0, err
	}
	return n, nil
}

// archiveValueColumns returns columns without duplicates and without the
// key columns, which are always copied.
func archiveValueColumns(pk, columns []string) []string {
	seen := map[string]bool{}
	for _, k := range pk {
		seen[strings.ToLower(k)] = true
	}
	var out []string
	for _, c := range columns {
		if c != "" && !seen[strings.ToLower(c)] {
			seen[strings.ToLower(c)] = true
			out = append(out, c)
		}
	}
	return out
}

// archiveDDL returns the statements that (re)build the archive.
func archiveDDL(d dialect.Name, name, table string, pk, cols []string) []string {
	q := func(s string) string { return dialect.QuoteIdent(d, s) }
	list := func(names []string) string {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = q(n)
		}
		return strings.Join(quoted, ", ")
	}
	sel := "SELECT " + list(append(append([]string{}, pk...), cols...)) + " FROM " + q(table)
	stmts := []string{"DROP TABLE IF EXISTS " + q(name)}
	switch d {
	case dialect.MySQL:
		// One statement, keyed from the start (sql_require_primary_key).
		stmts = append(stmts, "CREATE TABLE "+q(name)+" (PRIMARY KEY ("+list(pk)+")) "+sel)
	case dialect.Postgres:
		stmts = append(stmts, "CREATE TABLE "+q(name)+" AS "+sel, "ALTER TABLE "+q(name)+" ADD PRIMARY KEY ("+list(pk)+")")
	default:
		// SQLite cannot add a primary key to an existing table.
		stmts = append(stmts, "CREATE TABLE "+q(name)+" AS "+sel,
			"CREATE UNIQUE INDEX "+q(archiveFit(name+"_pk"))+" ON "+q(name)+" ("+list(pk)+")")
	}
	return stmts
}

// archiveEarlier returns the record of the archive name when both the
// record and the table exist.
func archiveEarlier(db *gorm.DB, name string) (archiveRecord, bool, error) {
	var rec archiveRecord
	if !db.Migrator().HasTable(ArchivesTable) || !db.Migrator().HasTable(name) {
		return rec, false, nil
	}
	err := db.Where("archive_table = ?", name).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("migrations: read %s: %w", ArchivesTable, err)
	}
	return rec, true, nil
}

// archiveKept handles a retried archive after a contract that dropped some
// archived columns before it stopped: the earlier archive is kept when it
// holds every requested column, since rebuilding it would lose the values
// of the columns already dropped. missing are the requested columns the
// table lacks, gone the earlier archive's columns it lacks.
func archiveKept(ctx context.Context, db *gorm.DB, d dialect.Name, name, table string, cols, missing, gone []string, rec archiveRecord, found bool) (int64, error) {
	if !found {
		return 0, fmt.Errorf("migrations: archive %s: column(s) %s not in table %s, and no earlier archive holds them\nhint: check the column names; a column dropped without an archive cannot be archived any more",
			name, strings.Join(missing, ", "), table)
	}
	held := map[string]bool{}
	for _, c := range rec.columns() {
		held[strings.ToLower(c)] = true
	}
	for _, c := range cols {
		if !held[strings.ToLower(c)] {
			return 0, fmt.Errorf("migrations: archive %s: it holds %s, of which %s were dropped from %s since, so it cannot be rebuilt for %s without losing their values\nhint: keep the model declarations the contract started with, or copy %s aside and drop it to start over",
				name, strings.Join(rec.columns(), ", "), strings.Join(append(missing, gone...), ", "), table, strings.Join(cols, ", "), name)
		}
	}
	n, err := archiveCount(db, d, name)
	if err != nil {
		return 0, err
	}
	rel, _ := versions.Parse(rec.Release)
	detail := fmt.Sprintf("kept archive %s (%d row(s)): %s dropped from %s after it was archived", name, n, strings.Join(append(missing, gone...), ", "), table)
	if err := store.Journal(ctx, db, "archive", rel, detail); err != nil {
		return 0, err
	}
	return n, nil
}

// ensureArchivesTable creates tandem_archives when it does not exist.
func ensureArchivesTable(db *gorm.DB) error {
	m := db.Migrator()
	if m.HasTable(&archiveRecord{}) {
		return nil
	}
	if err := m.CreateTable(&archiveRecord{}); err != nil {
		return fmt.Errorf("migrations: create %s: %w", ArchivesTable, err)
	}
	return nil
}

func archiveCount(db *gorm.DB, d dialect.Name, table string) (int64, error) {
	var n int64
	if err := db.Raw("SELECT COUNT(*) FROM " + dialect.QuoteIdent(d, table)).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("migrations: count rows of %s: %w", table, err)
	}
	return n, nil
}

// Archives lists the archive tables (found by their name prefix in the
// database's catalog) with their row counts and, from tandem_archives, what
// each holds. They are ordered by release, then source table.
func Archives(ctx context.Context, db *gorm.DB) ([]ArchiveInfo, error) {
	d := dialect.Of(db)
	if !d.Valid() {
		return nil, fmt.Errorf("migrations: archives: unsupported dialect %q", d)
	}
	db = db.WithContext(ctx)
	var q string
	switch d {
	case dialect.Postgres:
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name LIKE ?"
	case dialect.MySQL:
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_name LIKE ?"
	default:
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
	}
	var names []string
	// '_' is a LIKE wildcard: the pattern matches a superset, filtered below.
	if err := db.Raw(q, ArchivePrefix+"%").Scan(&names).Error; err != nil {
		return nil, fmt.Errorf("migrations: list archive tables: %w", err)
	}
	recs := map[string]archiveRecord{}
	if db.Migrator().HasTable(ArchivesTable) {
		var rows []archiveRecord
		if err := db.Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", ArchivesTable, err)
		}
		for _, r := range rows {
			recs[strings.ToLower(r.Archive)] = r
		}
	}
	out := []ArchiveInfo{}
	for _, name := range names {
		if !strings.HasPrefix(strings.ToLower(name), ArchivePrefix) {
			continue
		}
		n, err := archiveCount(db, d, name)
		if err != nil {
			return nil, err
		}
		info := ArchiveInfo{Table: name, Rows: n, PrimaryKey: []string{}, Columns: []string{}}
		if r, ok := recs[strings.ToLower(name)]; ok {
			info.Source, info.Release, info.ArchivedAt = r.Source, r.Release, r.ArchivedAt
			info.PrimaryKey, info.Columns = r.primaryKey(), r.columns()
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, aerr := versions.Parse(out[i].Release)
		b, berr := versions.Parse(out[j].Release)
		switch {
		case (aerr == nil) != (berr == nil):
			return aerr == nil // unrecorded archives last
		case aerr == nil && a != b:
			return a.Less(b)
		case out[i].Source != out[j].Source:
			return out[i].Source < out[j].Source
		}
		return out[i].Table < out[j].Table
	})
	return out, nil
}

// liveColumn is one column of a table as the database's catalog describes it.
type liveColumn struct {
	Name    string
	Type    string // as the dialect writes it in DDL, e.g. character varying(100), varchar(100), TEXT
	NotNull bool
}

// liveSchemaColumns reads the columns of table from the catalog, in table
// order; a table that does not exist has none.
func liveSchemaColumns(ctx context.Context, db *gorm.DB, d dialect.Name, table string) ([]liveColumn, error) {
	var q string
	switch d {
	case dialect.Postgres:
		q = `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a WHERE a.attrelid = to_regclass(quote_ident(?)) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`
	case dialect.MySQL:
		q = `SELECT column_name, column_type, is_nullable = 'NO' FROM information_schema.columns
WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`
	default:
		q = `SELECT name, type, "notnull" <> 0 FROM pragma_table_info(?) ORDER BY cid`
	}
	rows, err := db.WithContext(ctx).Raw(q, table).Rows()
	if err != nil {
		return nil, fmt.Errorf("migrations: read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []liveColumn
	for rows.Next() {
		var c liveColumn
		if err := rows.Scan(&c.Name, &c.Type, &c.NotNull); err != nil {
			return nil, fmt.Errorf("migrations: read the columns of %s: %w", table, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrations: read the columns of %s: %w", table, err)
	}
	return out, nil
}

// liveMissing returns the names not among cols (case-insensitively).
func liveMissing(cols []liveColumn, names []string) []string {
	var out []string
	for _, n := range names {
		if liveFind(cols, n) == nil {
			out = append(out, n)
		}
	}
	return out
}

// liveFind returns the column named name (case-insensitively), or nil.
func liveFind(cols []liveColumn, name string) *liveColumn {
	for i := range cols {
		if strings.EqualFold(cols[i].Name, name) {
			return &cols[i]
		}
	}
	return nil
}
