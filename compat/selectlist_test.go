package compat_test

import (
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
)

// TestSelectListNotInherited: a plain read of a stamped model gets the
// model's columns from a list the plugin keeps per model and mode, set as
// the statement's SELECT clause. A chained *gorm.DB reuses its statement,
// so the clause must go when the read ends: a Pluck or a Count on the same
// chain afterwards reads what it asks for, and a read into a smaller
// struct still gets its fields filled.
func TestSelectListNotInherited(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen(), compat.WithPollInterval(50*time.Millisecond))

		sql := cur.Session(&gorm.Session{DryRun: true}).First(&CustomerV2{}, ids[0]).Statement.SQL.String()
		head, _, _ := strings.Cut(strings.ToUpper(sql), " FROM ")
		if strings.Contains(head, "*") || !containsColumn(sql, "given_name") || !containsColumn(sql, "obj_version") {
			t.Errorf("First lists %q, want the model's columns by name", sql)
		}

		q := cur.Model(&CustomerV2{}).Where("id IN ?", ids[:2])
		var got []CustomerV2
		must(t, q.Find(&got).Error)
		if len(got) != 2 || got[0].GivenName == "" {
			t.Fatalf("Find on the chain: %+v", got)
		}
		var emails []string
		if err := q.Pluck("email", &emails).Error; err != nil || len(emails) != 2 || !strings.HasSuffix(emails[0], "@example.com") {
			t.Errorf("Pluck on the chain after Find: %q, %v", emails, err)
		}
		var n int64
		if err := q.Count(&n).Error; err != nil || n != 2 {
			t.Errorf("Count on the chain after Find: %d, %v", n, err)
		}
		type emailOnly struct{ Email string }
		var small []emailOnly
		if err := cur.Model(&CustomerV2{}).Where("id = ?", ids[1]).Find(&small).Error; err != nil || len(small) != 1 || small[0].Email != "grace@example.com" {
			t.Errorf("Find into a smaller struct: %+v, %v", small, err)
		}
	})
}
