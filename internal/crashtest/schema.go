package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// schemaQueries list, per dialect, one line per table column, index,
// constraint and trigger of the database, so that the schema left by a run
// that was killed and restarted can be compared with the one an
// uninterrupted run leaves: a second copy of a constraint, an index that a
// killed CREATE TABLE never got, a trigger left behind all show.
var schemaQueries = map[dialect.Name][]string{
	dialect.Postgres: {
		`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
		   FROM information_schema.columns WHERE table_schema = current_schema()`,
		`SELECT 'index ' || tablename || '.' || indexname || ' ' || indexdef
		   FROM pg_indexes WHERE schemaname = current_schema()`,
		`SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(oid)
		   FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`,
		`SELECT 'trigger ' || event_object_table || '.' || trigger_name || ' ' || event_manipulation
		   FROM information_schema.triggers WHERE trigger_schema = current_schema()`,
	},
	dialect.MySQL: {
		`SELECT CONCAT('column ', table_name, '.', column_name, ' ', column_type, ' ', is_nullable)
		   FROM information_schema.columns WHERE table_schema = DATABASE()`,
		`SELECT CONCAT('index ', table_name, '.', index_name, ' ', seq_in_index, ' ', column_name, ' ', non_unique)
		   FROM information_schema.statistics WHERE table_schema = DATABASE()`,
		`SELECT CONCAT('trigger ', event_object_table, '.', trigger_name, ' ', event_manipulation)
		   FROM information_schema.triggers WHERE trigger_schema = DATABASE()`,
	},
	dialect.SQLite: {
		`SELECT type || ' ' || tbl_name || '.' || name || ' ' || COALESCE(sql, '')
		   FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'`,
		`SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' ' || p."notnull"
		   FROM sqlite_master m, pragma_table_info(m.name) p
		  WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'`,
	},
}

// schemaOf returns the sorted schema lines of the database.
func schemaOf(ctx context.Context, db *gorm.DB, d dialect.Name) ([]string, error) {
	var out []string
	for _, q := range schemaQueries[d] {
		var lines []string
		if err := db.WithContext(ctx).Raw(q).Scan(&lines).Error; err != nil {
			return nil, fmt.Errorf("read the schema: %w", err)
		}
		for _, l := range lines {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	sort.Strings(out)
	return out, nil
}

// diffLines returns the lines only in got (+) and only in want (-).
func diffLines(want, got []string) []string {
	count := map[string]int{}
	for _, l := range want {
		count[l]--
	}
	for _, l := range got {
		count[l]++
	}
	var out []string
	for l, n := range count {
		for ; n > 0; n-- {
			out = append(out, "+ "+l)
		}
		for ; n < 0; n++ {
			out = append(out, "- "+l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return out
}
