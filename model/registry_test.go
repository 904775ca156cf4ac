package model_test

import (
	"errors"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/model"
)

type Customer2 struct {
	ID   uint
	Name string
	model.Stamp
}

func (Customer2) TableName() string { return "customers" }

func TestRegistry(t *testing.T) {
	db, err := gorm.Open(sqlite.Open("file::memory:"), &gorm.Config{Logger: logger.Discard, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	r := model.NewRegistry()
	if err := r.Register(db, &Customer{}, &Plain{}, &OrderLine{}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := r.Register(db, &Customer{}); err != nil {
		t.Errorf("registering a model again: %v", err)
	}
	if s, ok := r.Lookup("customers"); !ok || s.Model != "Customer" {
		t.Errorf("Lookup(customers) = %v, %v", s, ok)
	}
	var tables []string
	for _, s := range r.Specs() {
		tables = append(tables, s.Table)
	}
	if len(tables) != 3 || tables[0] != "customers" || tables[1] != "order_lines" || tables[2] != "plains" {
		t.Errorf("Specs tables = %v", tables)
	}

	err = r.Register(db, &Customer2{})
	if !errors.Is(err, model.ErrConflict) {
		t.Errorf("conflicting table: %v", err)
	}
	if s, _ := r.Lookup("customers"); s.Model != "Customer" {
		t.Errorf("conflict replaced the spec with %s", s.Model)
	}

	err = r.Register(db, &StampedOnly{}, &NoStamp{}, &UnknownKey{})
	if !errors.Is(err, model.ErrNoStamp) || !errors.Is(err, model.ErrUnknownTagKey) {
		t.Errorf("want both refusals, got %v", err)
	}
	if _, ok := r.Lookup("stamped_onlies"); ok {
		t.Errorf("a refused Register added a spec")
	}
	if err := r.Register(db, 42); !errors.Is(err, model.ErrNotAModel) {
		t.Errorf("Register(42) = %v", err)
	}
}
