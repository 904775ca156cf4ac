package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// SpecDoc is a model's declaration as the model registry records it (the
// spec column of tandem_models, as JSON), so that the CLI can work without
// the service's Go code.
type SpecDoc struct {
	Model      string      `json:"model"`
	Table      string      `json:"table"`
	PrimaryKey []string    `json:"primary_key"`
	Stamp      string      `json:"stamp"`
	Columns    []ColumnDoc `json:"columns,omitempty"`
	Upgrades   bool        `json:"upgrades"`
	Downgrades bool        `json:"downgrades"`
}

// ColumnDoc is one transitional column of a SpecDoc.
type ColumnDoc struct {
	Column     string `json:"column"`
	Field      string `json:"field"`
	Added      string `json:"added,omitempty"`
	Deprecated string `json:"deprecated,omitempty"`
}

// NewSpecDoc describes a spec.
func NewSpecDoc(s *model.Spec) SpecDoc {
	d := SpecDoc{Model: s.Model, Table: s.Table, PrimaryKey: s.PrimaryKey, Stamp: s.StampColumn, Upgrades: s.Upgrades, Downgrades: s.Downgrades}
	for _, f := range s.Fields {
		c := ColumnDoc{Column: f.Column, Field: f.Name}
		if !f.Added.IsZero() {
			c.Added = f.Added.String()
		}
		if !f.Deprecated.IsZero() {
			c.Deprecated = f.Deprecated.String()
		}
		d.Columns = append(d.Columns, c)
	}
	return d
}

// JSON encodes the document.
func (d SpecDoc) JSON() string {
	b, _ := json.Marshal(d)
	return string(b)
}

// Doc decodes the recorded declaration.
func (m ModelSpec) Doc() (SpecDoc, error) {
	var d SpecDoc
	if err := json.Unmarshal([]byte(m.Spec), &d); err != nil {
		return d, fmt.Errorf("store: model registry entry %s/%s: %w", m.Release, m.Table, err)
	}
	return d, nil
}

// DeprecatedIn returns the columns the document deprecates in release r.
func (d SpecDoc) DeprecatedIn(r string) []string {
	var out []string
	for _, c := range d.Columns {
		if c.Deprecated == r {
			out = append(out, c.Column)
		}
	}
	return out
}

// AddedIn returns the columns the document adds in release r.
func (d SpecDoc) AddedIn(r string) []string {
	var out []string
	for _, c := range d.Columns {
		if c.Added == r {
			out = append(out, c.Column)
		}
	}
	return out
}

// DocsFor returns the model declarations of release rel, one per table,
// sorted by table: those registered for rel, and, for a table none is
// registered for, the one of the lowest release above rel whose columns
// name rel. (An instance of a release that declares nothing of its own, a
// patch release, runs as the release its tags name but registers under its
// own; when only such instances ran, theirs is what rel has.)
func DocsFor(ctx context.Context, db *gorm.DB, rel versions.Version) ([]SpecDoc, error) {
	rows, err := Models(ctx, db) // by release_stamp, then table
	if err != nil {
		return nil, err
	}
	byTable := map[string]SpecDoc{}
	exact := map[string]bool{}
	for _, row := range rows {
		v, err := versions.Parse(row.Release)
		if err != nil || v.Less(rel) || exact[row.Table] {
			continue
		}
		doc, err := row.Doc()
		if err != nil {
			return nil, err
		}
		if doc.Table == "" {
			doc.Table = row.Table
		}
		if doc.Model == "" {
			doc.Model = row.Model
		}
		switch _, have := byTable[row.Table]; {
		case v == rel:
			byTable[row.Table], exact[row.Table] = doc, true
		case !have && doc.names(rel.String()):
			byTable[row.Table] = doc
		}
	}
	docs := make([]SpecDoc, 0, len(byTable))
	for _, d := range byTable {
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Table < docs[j].Table })
	return docs, nil
}

// names reports whether a column of the document is added or deprecated in
// release r.
func (d SpecDoc) names(r string) bool {
	for _, c := range d.Columns {
		if c.Added == r || c.Deprecated == r {
			return true
		}
	}
	return false
}
