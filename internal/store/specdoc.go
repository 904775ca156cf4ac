package store

import (
	"encoding/json"
	"fmt"

	"github.com/tandemdb/tandem/model"
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
