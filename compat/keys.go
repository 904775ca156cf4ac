package compat

import (
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

type schemaField struct {
	name string
	f    *schema.Field
}

// normalizeKeys converts primary key values read from the database to the
// Go types of the model's key fields, so that they print like the values
// held by the loaded models.
func normalizeKeys(vals []any, fields []*schema.Field, stmt *gorm.Statement, sample reflect.Value) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		tmp := reflect.New(sample.Type()).Elem()
		if err := fields[i].Set(stmt.Context, tmp, v); err != nil {
			out[i] = v
			continue
		}
		out[i], _ = fields[i].ValueOf(stmt.Context, tmp)
	}
	return out
}
