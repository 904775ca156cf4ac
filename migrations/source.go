package migrations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/sqlsplit"
	"github.com/tandemdb/tandem/versions"
)

// Kind says how a migration is written.
type Kind string

// Migration kinds.
const (
	KindSQL      Kind = "sql"
	KindGo       Kind = "go"
	KindBaseline Kind = "baseline" // a baseline file, or `tandem baseline` marking an existing database
)

// GoFunc is the body of a Go migration. It runs inside the migration's
// transaction where the dialect has transactional DDL (PostgreSQL, SQLite)
// and on the runner's connection otherwise.
type GoFunc func(ctx context.Context, db *gorm.DB) error

// Migration is one step of the plan: a SQL file (with its dialect variants)
// or a Go function, under an identifier such as 2.0_expand01.
type Migration struct {
	ID   versions.MigrationID
	Kind Kind
	Slug string // the descriptive part of the file name ("add_given_name")

	files map[dialect.Name]sqlFile // "" key: the plain file serving every dialect
	goFn  GoFunc
	goSum string // checksum of a Go migration: "go:" + its id and declared revision
}

type sqlFile struct {
	name    string
	content string
}

// File returns the name of the file that serves dialect d ("" for a Go
// migration or when no file serves d).
func (m *Migration) File(d dialect.Name) string {
	f, _ := m.file(d)
	return f.name
}

func (m *Migration) file(d dialect.Name) (sqlFile, bool) {
	if f, ok := m.files[d]; ok {
		return f, true
	}
	f, ok := m.files[""]
	return f, ok
}

// Serves reports whether the migration can run on dialect d.
func (m *Migration) Serves(d dialect.Name) bool {
	if m.Kind == KindGo {
		return true
	}
	_, ok := m.file(d)
	return ok
}

// Checksum returns the checksum recorded in the history for dialect d: the
// SHA-256 of the file's bytes, or for a Go migration a value derived from
// its id and declared revision.
func (m *Migration) Checksum(d dialect.Name) string {
	if m.Kind == KindGo {
		return m.goSum
	}
	f, _ := m.file(d)
	sum := sha256.Sum256([]byte(f.content))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SQL returns the text run for dialect d ("" for a Go migration).
func (m *Migration) SQL(d dialect.Name) string {
	f, _ := m.file(d)
	return f.content
}

// Statements splits the migration's SQL for dialect d.
func (m *Migration) Statements(d dialect.Name) ([]sqlsplit.Statement, sqlsplit.Options, error) {
	if m.Kind == KindGo {
		return nil, sqlsplit.Options{}, nil
	}
	f, ok := m.file(d)
	if !ok {
		return nil, sqlsplit.Options{}, fmt.Errorf("migration %s has no file for %s", m.ID, d)
	}
	st, opts, err := sqlsplit.Split(sqlsplit.Dialect(d), f.content)
	if err != nil {
		return nil, opts, fmt.Errorf("%s: %w", f.name, err)
	}
	return st, opts, nil
}

// Problem is one offending file or registration found while loading.
type Problem struct {
	File   string // file name, or "go:<id>" for a Go migration
	Reason string
}

// SourceError lists every problem found in a migration source at once.
type SourceError struct {
	Problems []Problem
	Hint     string // what to do; "" for the file naming rules
}

// namingHint is the hint of a SourceError about file names.
const namingHint = "files are named <release>_<phase><NN>_<slug>[.postgres|.mysql|.sqlite].sql or <release>_baseline[.<dialect>].sql, NN counting 01, 02, ... per release and phase"

// Error implements error.
func (e *SourceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: %d problem(s) in the migration files:", len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.File, p.Reason)
	}
	hint := e.Hint
	if hint == "" {
		hint = namingHint
	}
	b.WriteString("\nhint: " + hint)
	return b.String()
}

// Is makes errors.Is(err, ErrBadSource) true.
func (e *SourceError) Is(target error) bool { return target == ErrBadSource }

var slugRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Source is a loaded, validated set of migrations.
type Source struct {
	migrations []*Migration // sorted by id
	byID       map[versions.MigrationID]*Migration
}

// GoMigration is a migration written in Go, registered under an id.
type GoMigration struct {
	ID       string // e.g. "2.0_migrate01"
	Func     GoFunc
	Revision string // bump it when the function changes meaning; it feeds the checksum
}

// Load reads the migration files at the top level of fsys (nil for none)
// and adds the Go migrations. Files not ending in .sql are ignored. Every
// malformed name, duplicate id, unknown dialect suffix and gap or repeat in
// the numbering is reported at once in a *SourceError.
func Load(fsys fs.FS, gos ...GoMigration) (*Source, error) {
	var problems []Problem
	bad := func(file, format string, args ...any) {
		problems = append(problems, Problem{File: file, Reason: fmt.Sprintf(format, args...)})
	}
	byID := map[versions.MigrationID]*Migration{}
	if fsys != nil {
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			return nil, fmt.Errorf("migrations: read migration directory: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".sql") {
				continue
			}
			id, slug, d, reason := parseFileName(name)
			if reason != "" {
				bad(name, "%s", reason)
				continue
			}
			content, err := fs.ReadFile(fsys, name)
			if err != nil {
				bad(name, "cannot read: %v", err)
				continue
			}
			kind := KindSQL
			if id.Phase == versions.PhaseBaseline {
				kind = KindBaseline
			}
			m := byID[id]
			if m == nil {
				m = &Migration{ID: id, Kind: kind, Slug: slug, files: map[dialect.Name]sqlFile{}}
				byID[id] = m
			}
			if prev, dup := m.files[d]; dup {
				bad(name, "duplicate id %s: %s has it too", id, prev.name)
				continue
			}
			if m.Slug != slug {
				other := m.anyFile()
				bad(name, "id %s is used by %s with another name; dialect variants must share the name and differ only in the suffix", id, other)
				continue
			}
			m.files[d] = sqlFile{name: name, content: string(content)}
		}
	}
	for _, g := range gos {
		label := "go:" + g.ID
		id, err := versions.ParseMigrationID(g.ID)
		if err != nil {
			bad(label, "%v", err)
			continue
		}
		if id.Phase == versions.PhaseBaseline {
			bad(label, "a baseline must be a SQL file")
			continue
		}
		if g.Func == nil {
			bad(label, "nil function")
			continue
		}
		if prev := byID[id]; prev != nil {
			bad(label, "duplicate id %s: %s has it too", id, prev.anyFile())
			continue
		}
		byID[id] = &Migration{ID: id, Kind: KindGo, goFn: g.Func, goSum: "go:" + id.String() + "@" + g.Revision}
	}
	problems = append(problems, numbering(byID)...)
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].File < problems[j].File })
		return nil, &SourceError{Problems: problems}
	}
	s := &Source{byID: byID}
	for _, m := range byID {
		s.migrations = append(s.migrations, m)
	}
	sort.Slice(s.migrations, func(i, j int) bool { return s.migrations[i].ID.Less(s.migrations[j].ID) })
	return s, nil
}

func (m *Migration) anyFile() string {
	if m.Kind == KindGo {
		return "go:" + m.ID.String()
	}
	names := make([]string, 0, len(m.files))
	for _, f := range m.files {
		names = append(names, f.name)
	}
	sort.Strings(names)
	return names[0]
}

// parseFileName splits "2.0_expand01_add_name.postgres.sql".
func parseFileName(name string) (id versions.MigrationID, slug string, d dialect.Name, reason string) {
	id, rest, err := versions.CutMigrationID(name)
	if err != nil {
		return id, "", "", err.Error()
	}
	rest = strings.TrimSuffix(rest, ".sql")
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		suffix := rest[i+1:]
		rest = rest[:i]
		switch dialect.Name(suffix) {
		case dialect.Postgres, dialect.MySQL, dialect.SQLite:
			d = dialect.Name(suffix)
		default:
			return id, "", "", fmt.Sprintf("unknown dialect suffix %q (want postgres, mysql or sqlite)", suffix)
		}
	}
	if id.Phase == versions.PhaseBaseline {
		if rest != "" {
			return id, "", "", "a baseline is named <release>_baseline[.<dialect>].sql, without a slug"
		}
		return id, "", d, ""
	}
	slug = strings.TrimPrefix(rest, "_")
	if !strings.HasPrefix(rest, "_") || !slugRE.MatchString(slug) {
		return id, "", "", fmt.Sprintf("missing or malformed slug after %s (want %s_<words>, letters, digits, '_' and '-')", id, id)
	}
	return id, slug, d, ""
}

// numbering reports gaps and repeats in NN per release and phase.
func numbering(byID map[versions.MigrationID]*Migration) []Problem {
	type key struct {
		r versions.Version
		p versions.Phase
	}
	seqs := map[key][]*Migration{}
	for id, m := range byID {
		if id.Phase != versions.PhaseBaseline {
			k := key{id.Release, id.Phase}
			seqs[k] = append(seqs[k], m)
		}
	}
	var out []Problem
	for _, ms := range seqs {
		sort.Slice(ms, func(i, j int) bool { return ms[i].ID.Seq < ms[j].ID.Seq })
		for i, m := range ms {
			if want := i + 1; m.ID.Seq != want {
				out = append(out, Problem{File: m.anyFile(), Reason: fmt.Sprintf("numbering gap: %s follows %s; expected %s", m.ID, prevID(ms, i), versions.MigrationID{Release: m.ID.Release, Phase: m.ID.Phase, Seq: want})})
				break
			}
		}
	}
	return out
}

func prevID(ms []*Migration, i int) string {
	if i == 0 {
		return "nothing"
	}
	return ms[i-1].ID.String()
}

// Migrations returns every migration, ordered by id.
func (s *Source) Migrations() []*Migration { return s.migrations }

// Lookup returns the migration with the given id.
func (s *Source) Lookup(id versions.MigrationID) (*Migration, bool) {
	m, ok := s.byID[id]
	return m, ok
}

// Releases returns every release the source names, in order.
func (s *Source) Releases() []versions.Version {
	var out []versions.Version
	for _, m := range s.migrations {
		if len(out) == 0 || out[len(out)-1] != m.ID.Release {
			out = append(out, m.ID.Release)
		}
	}
	return out
}

// Newest returns the newest release the source names (zero when empty).
func (s *Source) Newest() versions.Version {
	rs := s.Releases()
	if len(rs) == 0 {
		return versions.Version{}
	}
	return rs[len(rs)-1]
}

// Want returns, per release, the last expand and contract numbers: the
// heads the database has when it is at that release.
func (s *Source) Want() versions.SchemaVersion {
	var sv versions.SchemaVersion
	for _, r := range s.Releases() {
		h := versions.ReleaseHeads{Release: r}
		for _, m := range s.migrations {
			if m.ID.Release != r {
				continue
			}
			switch m.ID.Phase {
			case versions.PhaseExpand:
				h.Expand = max(h.Expand, m.ID.Seq)
			case versions.PhaseContract:
				h.Contract = max(h.Contract, m.ID.Seq)
			}
		}
		sv.Set(h)
	}
	return sv
}

// CheckDialect reports every migration that has no file for dialect d.
func (s *Source) CheckDialect(d dialect.Name) error {
	var problems []Problem
	for _, m := range s.migrations {
		if !m.Serves(d) {
			problems = append(problems, Problem{File: m.anyFile(), Reason: fmt.Sprintf("no file serves %s: add %s_%s.%s.sql or a plain .sql file", d, m.ID, m.Slug, d)})
		}
	}
	if len(problems) > 0 {
		return &SourceError{Problems: problems, Hint: "every migration needs a file this database's dialect can run; nothing was applied"}
	}
	return nil
}
