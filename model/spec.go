package model

import (
	"errors"
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/versions"
)

// Field is a transitional field of a model: a column with a lifecycle.
type Field struct {
	Name   string // Go field name
	Column string // column name
	Lifecycle
	schemaField *schema.Field
}

// SchemaField returns GORM's parsed field.
func (f Field) SchemaField() *schema.Field { return f.schemaField }

// Spec is what tandem knows of one model: where its rows live, how they are
// keyed and stamped, and which fields come and go with which release. It is
// read from GORM's parsed schema and never changes it.
type Spec struct {
	Model       string   // Go type name
	Table       string   // table name
	PrimaryKey  []string // primary key columns, in order
	StampColumn string   // StampColumn, or "" for a model without model.Stamp
	Fields      []Field  // transitional fields, in declaration order
	Upgrades    bool     // the model implements Upgrader
	Downgrades  bool     // the model implements Downgrader
	// DowngradesFromAdded: the model implements DowngradeFromAdded.
	DowngradesFromAdded bool

	schema *schema.Schema
}

var (
	upgraderType   = reflect.TypeOf((*Upgrader)(nil)).Elem()
	downgraderType = reflect.TypeOf((*Downgrader)(nil)).Elem()
	fromAddedType  = reflect.TypeOf((*DowngradeFromAdded)(nil)).Elem()
)

// SpecOf parses value (a model, or a pointer to one) with db's schema cache
// and naming strategy and returns its Spec. A declaration tandem refuses
// yields one or more [*SpecError], joined.
func SpecOf(db *gorm.DB, value any) (*Spec, error) {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(value); err != nil {
		return nil, &SpecError{Model: fmt.Sprintf("%T", value), Err: ErrNotAModel, Detail: err.Error()}
	}
	return NewSpec(stmt.Schema)
}

// NewSpec builds the Spec of a parsed GORM schema.
func NewSpec(s *schema.Schema) (*Spec, error) {
	if s == nil {
		return nil, &SpecError{Model: "<nil>", Err: ErrNotAModel}
	}
	spec := &Spec{Model: s.Name, Table: s.Table, schema: s}
	for _, f := range s.PrimaryFields {
		spec.PrimaryKey = append(spec.PrimaryKey, f.DBName)
	}
	var errs []error
	fail := func(field string, err error, format string, args ...any) {
		errs = append(errs, &SpecError{Model: s.Name, Field: field, Err: err, Detail: fmt.Sprintf(format, args...)})
	}
	if f := s.LookUpField(StampColumn); f != nil && f.DBName == StampColumn {
		if f.FieldType.Kind() != reflect.Int64 {
			fail(f.Name, ErrBadStamp, "field %s is %s; embed model.Stamp instead of declaring obj_version yourself", f.Name, f.FieldType)
		} else {
			spec.StampColumn = StampColumn
		}
	}
	for _, f := range s.Fields {
		tag, ok := f.Tag.Lookup(TagName)
		if !ok {
			continue
		}
		l, te := parseTag(tag)
		switch {
		case te != nil:
			fail(f.Name, te.err, "%s", te.detail)
			continue
		case f.DBName == "":
			fail(f.Name, ErrMalformedTag, "field %s is not mapped to a column (gorm:\"-\" or an association); remove the tandem tag", f.Name)
			continue
		case f.PrimaryKey:
			fail(f.Name, ErrTagOnPrimaryKey, "column %s is part of the primary key, which must live through every release; add a new table instead", f.DBName)
			continue
		case f.DBName == StampColumn:
			fail(f.Name, ErrTagOnStamp, "the stamp column %s cannot come or go with a release", f.DBName)
			continue
		case !l.Added.IsZero() && f.NotNull && !f.HasDefaultValue:
			fail(f.Name, ErrAddedNotNull, "column %s is added in %s as NOT NULL without a default, so instances of the older release could not insert rows; make it nullable or give it a default", f.DBName, l.Added)
			continue
		}
		spec.Fields = append(spec.Fields, Field{Name: f.Name, Column: f.DBName, Lifecycle: l, schemaField: f})
	}
	if len(spec.Fields) > 0 && spec.StampColumn == "" {
		fail(spec.Fields[0].Name, ErrNoStamp, "model has transitional fields but no %s column; embed model.Stamp", StampColumn)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ptr := reflect.PointerTo(s.ModelType)
	spec.Upgrades = ptr.Implements(upgraderType)
	spec.Downgrades = ptr.Implements(downgraderType)
	spec.DowngradesFromAdded = ptr.Implements(fromAddedType)
	return spec, nil
}

// Schema returns GORM's parsed schema of the model.
func (s *Spec) Schema() *schema.Schema { return s.schema }

// Stamped reports whether the model embeds model.Stamp.
func (s *Spec) Stamped() bool { return s.StampColumn != "" }

// Transitional reports whether the model has fields with a lifecycle.
func (s *Spec) Transitional() bool { return len(s.Fields) > 0 }

// Field looks a transitional field up by Go name or column name.
func (s *Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name || f.Column == name {
			return f, true
		}
	}
	return Field{}, false
}

// AddedIn returns the fields the expand of release r adds.
func (s *Spec) AddedIn(r versions.Version) []Field {
	return s.filter(func(f Field) bool { return f.Added == r })
}

// DeprecatedIn returns the fields release r deprecates (and its contract drops).
func (s *Spec) DeprecatedIn(r versions.Version) []Field {
	return s.filter(func(f Field) bool { return f.Deprecated == r })
}

// HiddenAt returns the fields deprecated at or before release r: those a
// release r instance in L(c) no longer touches.
func (s *Spec) HiddenAt(r versions.Version) []Field {
	return s.filter(func(f Field) bool { return !f.Deprecated.IsZero() && f.Deprecated.Compare(r) <= 0 })
}

// Releases returns, in order and without repeats, the releases that add or
// deprecate a field of the model.
func (s *Spec) Releases() []versions.Version {
	var out []versions.Version
	seen := map[versions.Version]bool{}
	for _, f := range s.Fields {
		for _, v := range []versions.Version{f.Added, f.Deprecated} {
			if !v.IsZero() && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sortVersions(out)
	return out
}

func (s *Spec) filter(keep func(Field) bool) []Field {
	var out []Field
	for _, f := range s.Fields {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

func sortVersions(vs []versions.Version) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].Less(vs[j-1]); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}
