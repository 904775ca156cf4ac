package migrations

import (
	"errors"
	"io/fs"

	"github.com/tandemdb/tandem/internal/dialect"
)

// Validation is the result of Validate.
type Validation struct {
	Migrations int       `json:"migrations"`
	Releases   []string  `json:"releases"`
	Problems   []Problem `json:"problems"`
	Warnings   []Problem `json:"warnings"`
}

// Validate checks a migration source without a database: file names,
// numbering, duplicate ids, and that every file splits into statements for
// each dialect it serves and carries only known annotations (a backfill
// file: one SET list in a migrate file). A migration no file serves for
// some dialect is a warning (a service may run on one dialect only). It
// returns an error only when the source cannot be read.
func Validate(fsys fs.FS, gos ...GoMigration) (*Validation, error) {
	v := &Validation{Releases: []string{}, Problems: []Problem{}, Warnings: []Problem{}}
	src, err := Load(fsys, gos...)
	var se *SourceError
	if errors.As(err, &se) {
		v.Problems = append(v.Problems, se.Problems...)
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	v.Migrations = len(src.Migrations())
	for _, r := range src.Releases() {
		v.Releases = append(v.Releases, r.String())
	}
	for _, d := range dialect.Names() {
		for _, m := range src.Migrations() {
			if !m.Serves(d) {
				v.Warnings = append(v.Warnings, Problem{File: m.anyFile(), Reason: "no file serves " + string(d)})
				continue
			}
			for _, reason := range fileProblems(m, d) {
				v.Problems = append(v.Problems, Problem{File: m.File(d), Reason: string(d) + ": " + reason})
			}
		}
	}
	return v, nil
}
