package model_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

func parse(t *testing.T, v any) (*model.Spec, error) {
	t.Helper()
	s, err := schema.Parse(v, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatalf("gorm could not parse %T: %v", v, err)
	}
	return model.NewSpec(s)
}

type Customer struct {
	ID         uint
	Email      string
	Name       string `tandem:"deprecated=2.0"`
	GivenName  string `tandem:"added=2.0"`
	FamilyName string `gorm:"not null;default:''" tandem:"added=2.0"`
	Nickname   string `tandem:"added=1.4,deprecated=2.0"`
	model.Stamp
}

func (c *Customer) TandemUpgrade(versions.Version) error { return nil }
func (c *Customer) TandemDowngrade() error               { return nil }

type Plain struct {
	ID   uint
	Name string
}

type StampedOnly struct {
	ID   uint
	Name string
	model.Stamp
}

type OrderLine struct {
	OrderID uint   `gorm:"primaryKey"`
	LineNo  int    `gorm:"primaryKey"`
	Qty     int    `tandem:"deprecated=3.0"`
	QtyMg   *int64 `tandem:"added=3.0"`
	model.Stamp
}

func TestSpecOfValidModels(t *testing.T) {
	spec, err := parse(t, &Customer{})
	if err != nil {
		t.Fatalf("NewSpec: %v", err)
	}
	if spec.Model != "Customer" || spec.Table != "customers" || spec.StampColumn != "obj_version" {
		t.Errorf("spec = %s/%s/%s", spec.Model, spec.Table, spec.StampColumn)
	}
	if strings.Join(spec.PrimaryKey, ",") != "id" {
		t.Errorf("PrimaryKey = %v", spec.PrimaryKey)
	}
	if !spec.Upgrades || !spec.Downgrades || !spec.Transitional() || !spec.Stamped() || spec.DowngradesFromAdded {
		t.Errorf("flags: up=%v down=%v from-added=%v trans=%v stamped=%v", spec.Upgrades, spec.Downgrades, spec.DowngradesFromAdded, spec.Transitional(), spec.Stamped())
	}
	if fa, err := parse(t, &fromAdded{}); err != nil || !fa.Downgrades || !fa.DowngradesFromAdded {
		t.Errorf("a model with TandemDowngradeFromAdded: %+v, %v", fa, err)
	}
	v2, v14 := versions.MustParse("2.0"), versions.MustParse("1.4")
	cols := func(fs []model.Field) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.Column)
		}
		return strings.Join(s, ",")
	}
	if got := cols(spec.DeprecatedIn(v2)); got != "name,nickname" {
		t.Errorf("DeprecatedIn(2.0) = %s", got)
	}
	if got := cols(spec.AddedIn(v2)); got != "given_name,family_name" {
		t.Errorf("AddedIn(2.0) = %s", got)
	}
	if got := cols(spec.AddedIn(v14)); got != "nickname" {
		t.Errorf("AddedIn(1.4) = %s", got)
	}
	if got := cols(spec.HiddenAt(versions.MustParse("1.9"))); got != "" {
		t.Errorf("HiddenAt(1.9) = %s", got)
	}
	if got := cols(spec.HiddenAt(versions.MustParse("2.1"))); got != "name,nickname" {
		t.Errorf("HiddenAt(2.1) = %s", got)
	}
	if rs := spec.Releases(); len(rs) != 2 || rs[0] != v14 || rs[1] != v2 {
		t.Errorf("Releases = %v", rs)
	}
	if f, ok := spec.Field("GivenName"); !ok || f.Column != "given_name" || f.Added != v2 || f.SchemaField() == nil {
		t.Errorf("Field(GivenName) = %+v, %v", f, ok)
	}
	if _, ok := spec.Field("email"); ok {
		t.Errorf("Field(email): a column without a lifecycle is not transitional")
	}

	plain, err := parse(t, &Plain{})
	if err != nil || plain.Stamped() || plain.Transitional() || plain.StampColumn != "" {
		t.Errorf("Plain: %+v, %v", plain, err)
	}
	so, err := parse(t, &StampedOnly{})
	if err != nil || !so.Stamped() || so.Transitional() || so.Upgrades {
		t.Errorf("StampedOnly: %+v, %v", so, err)
	}
	ol, err := parse(t, &OrderLine{})
	if err != nil {
		t.Fatalf("OrderLine: %v", err)
	}
	if strings.Join(ol.PrimaryKey, ",") != "order_id,line_no" || ol.Upgrades || ol.Downgrades {
		t.Errorf("OrderLine = %+v", ol)
	}
}

// Each refused declaration, with the sentinel and the model and field named.
type (
	UnknownKey struct {
		ID   uint
		Name string `tandem:"removed=2.0"`
		model.Stamp
	}
	BadVersion struct {
		ID   uint
		Name string `tandem:"added=2.x"`
		model.Stamp
	}
	ZeroVersion struct {
		ID   uint
		Name string `tandem:"added=0.0"`
		model.Stamp
	}
	DeprecatedSame struct {
		ID   uint
		Name string `tandem:"added=2.0,deprecated=2.0"`
		model.Stamp
	}
	DeprecatedBefore struct {
		ID   uint
		Name string `tandem:"added=2.0,deprecated=1.9"`
		model.Stamp
	}
	TagOnKey struct {
		ID   uint `tandem:"added=2.0"`
		Name string
		model.Stamp
	}
	TagOnStamp struct {
		ID         uint
		ObjVersion int64 `gorm:"column:obj_version" tandem:"added=2.0"`
	}
	NoStamp struct {
		ID   uint
		Name string `tandem:"deprecated=2.0"`
	}
	AddedNotNull struct {
		ID   uint
		Code string `gorm:"not null" tandem:"added=2.0"`
		model.Stamp
	}
	Malformed struct {
		ID   uint
		Name string `tandem:"added"`
		model.Stamp
	}
	Empty struct {
		ID   uint
		Name string `tandem:""`
		model.Stamp
	}
	Twice struct {
		ID   uint
		Name string `tandem:"added=2.0,added=2.1"`
		model.Stamp
	}
	Ignored struct {
		ID   uint
		Name string `gorm:"-" tandem:"added=2.0"`
		model.Stamp
	}
	WrongStamp struct {
		ID         uint
		ObjVersion string `gorm:"column:obj_version"`
	}
)

func TestSpecRefusals(t *testing.T) {
	tests := []struct {
		model any
		name  string
		field string
		want  error
		text  string
	}{
		{&UnknownKey{}, "UnknownKey", "Name", model.ErrUnknownTagKey, `"removed"`},
		{&BadVersion{}, "BadVersion", "Name", model.ErrBadVersion, `"2.x"`},
		{&ZeroVersion{}, "ZeroVersion", "Name", model.ErrBadVersion, "0.0"},
		{&DeprecatedSame{}, "DeprecatedSame", "Name", model.ErrDeprecatedBeforeAdded, "deprecated=2.0 is not after added=2.0"},
		{&DeprecatedBefore{}, "DeprecatedBefore", "Name", model.ErrDeprecatedBeforeAdded, "deprecated=1.9"},
		{&TagOnKey{}, "TagOnKey", "ID", model.ErrTagOnPrimaryKey, "primary key"},
		{&TagOnStamp{}, "TagOnStamp", "ObjVersion", model.ErrTagOnStamp, "obj_version"},
		{&NoStamp{}, "NoStamp", "Name", model.ErrNoStamp, "embed model.Stamp"},
		{&AddedNotNull{}, "AddedNotNull", "Code", model.ErrAddedNotNull, "without a default"},
		{&Malformed{}, "Malformed", "Name", model.ErrMalformedTag, `"added"`},
		{&Empty{}, "Empty", "Name", model.ErrMalformedTag, "empty tag"},
		{&Twice{}, "Twice", "Name", model.ErrMalformedTag, "given twice"},
		{&Ignored{}, "Ignored", "Name", model.ErrMalformedTag, "not mapped"},
		{&WrongStamp{}, "WrongStamp", "ObjVersion", model.ErrBadStamp, "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := parse(t, tt.model)
			if err == nil {
				t.Fatalf("NewSpec accepted %T: %+v", tt.model, spec)
			}
			if spec != nil {
				t.Errorf("NewSpec returned a spec with the error")
			}
			var se *model.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *model.SpecError", err, err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v does not match %v", err, tt.want)
			}
			if se.Model != tt.name || se.Field != tt.field {
				t.Errorf("SpecError names %s.%s, want %s.%s", se.Model, se.Field, tt.name, tt.field)
			}
			if !strings.Contains(err.Error(), tt.name+"."+tt.field) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("message %q lacks %q or %q", err, tt.name+"."+tt.field, tt.text)
			}
		})
	}
}

type TwoProblems struct {
	ID uint
	A  string `tandem:"bogus=1.0"`
	B  string `gorm:"not null" tandem:"added=2.0"`
	model.Stamp
}

func TestSpecReportsEveryProblem(t *testing.T) {
	_, err := parse(t, &TwoProblems{})
	if !errors.Is(err, model.ErrUnknownTagKey) || !errors.Is(err, model.ErrAddedNotNull) {
		t.Fatalf("want both refusals, got %v", err)
	}
}

func TestParseTag(t *testing.T) {
	good := map[string]model.Lifecycle{
		"added=2.0":                    {Added: versions.MustParse("2.0")},
		"deprecated=2.0.1":             {Deprecated: versions.MustParse("2.0.1")},
		"added=1.4,deprecated=2.0":     {Added: versions.MustParse("1.4"), Deprecated: versions.MustParse("2.0")},
		" deprecated=3.0 , added=2.0 ": {Added: versions.MustParse("2.0"), Deprecated: versions.MustParse("3.0")},
	}
	for tag, want := range good {
		got, err := model.ParseTag(tag)
		if err != nil || got != want {
			t.Errorf("ParseTag(%q) = %v, %v; want %v", tag, got, err, want)
		}
		if again, err := model.ParseTag(got.String()); err != nil || again != got {
			t.Errorf("ParseTag(%q.String()=%q) = %v, %v", tag, got.String(), again, err)
		}
	}
	bad := map[string]error{
		"":                         model.ErrMalformedTag,
		"added=":                   model.ErrMalformedTag,
		"=2.0":                     model.ErrMalformedTag,
		"added=2.0,":               model.ErrMalformedTag,
		"renamed=2.0":              model.ErrUnknownTagKey,
		"Added=2.0":                model.ErrUnknownTagKey,
		"added=2":                  model.ErrBadVersion,
		"deprecated=v2.0":          model.ErrBadVersion,
		"added=70000.0":            model.ErrBadVersion,
		"added=3.0,deprecated=2.0": model.ErrDeprecatedBeforeAdded,
	}
	for tag, want := range bad {
		if _, err := model.ParseTag(tag); !errors.Is(err, want) {
			t.Errorf("ParseTag(%q) error = %v, want %v", tag, err, want)
		}
	}
}

// fromAdded declares that its downgrade reads only the added field.
type fromAdded struct {
	ID  uint
	Old string `tandem:"deprecated=2.0"`
	New string `tandem:"added=2.0"`
	model.Stamp
}

func (f *fromAdded) TandemDowngrade() error  { f.Old = f.New; return nil }
func (*fromAdded) TandemDowngradeFromAdded() {}
