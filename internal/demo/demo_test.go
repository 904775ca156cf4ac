package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/demo"
)

// TestDemo runs the whole protocol on every dialect: it must end with every
// row right, after showing the flag's and the contract's refusals.
func TestDemo(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		var out bytes.Buffer
		if err := demo.Run(context.Background(), demo.Options{DSN: db.DSN, Customers: 60, Out: &out}); err != nil {
			t.Fatalf("demo: %v\n%s", err, out.String())
		}
		for _, want := range []string{"the ready-for-contract flag of 2.0 cannot be set", "every row holds the right values", "applied 2.0_contract01"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("demo output lacks %q:\n%s", want, out.String())
			}
		}
		if cols := strings.Join(db.Columns(t, "customers"), ","); cols != "email,family_name,given_name,id,obj_version" {
			t.Errorf("customers columns after the demo: %s", cols)
		}
	})
}

func TestDemoRefusesNonEmptyDatabase(t *testing.T) {
	db := dbtest.New(t, "sqlite")
	db.Exec(t, "CREATE TABLE keep_me (id INTEGER PRIMARY KEY)")
	err := demo.Run(context.Background(), demo.Options{DSN: db.DSN, Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("demo on a non-empty database: %v", err)
	}
	if tables := db.Tables(t); len(tables) != 1 {
		t.Errorf("the demo changed a database it refused: %v", tables)
	}
}
