package compat_test

import (
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/versions"
)

// TestScanUsesQuerySnapshot: Scan converts the models it filled after the
// query ran, so a flip in between must not change how: a query built in
// 2.0(c) left the deprecated Name out, and converting its row as 2.0(m)
// would (Name empty) set the added fields from nothing. The flip back to
// 2.0(m) is made to land between the query and the conversion.
func TestScanUsesQuerySnapshot(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		ada := ids[0] // Ada Lovelace
		cur, p2 := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithPollInterval(20*time.Millisecond))
		setTo(t, db, p2, v2, versions.StateContractReady)

		var once sync.Once
		flipped := false
		must(t, cur.Callback().Row().After("tandem:row_done").Register("test:flip_back", func(tx *gorm.DB) {
			once.Do(func() {
				// The rows are read, not yet scanned: flip back and wait
				// until the plugin runs as 2.0(m).
				setTo(t, db, p2, v2, versions.StateExpanded)
				flipped = p2.Mode() == compat.ModeDual
			})
		}))
		var c CustomerV2
		must(t, cur.Model(&CustomerV2{}).Where("id = ?", ada).Scan(&c).Error)
		if !flipped {
			t.Fatalf("the plugin did not run as 2.0(m) before the scan's conversion (mode %s)", p2.Mode())
		}
		if c.GivenName != "Ada" || c.FamilyName != "Lovelace" {
			t.Errorf("scanned across the flip: %+v, want GivenName Ada and FamilyName Lovelace, converted as the 2.0(c) query read them", c)
		}
		if r := raw(t, db, ada); str(r.Name) != "Ada Lovelace" || r.ObjVersion != v1.Stamp() {
			t.Errorf("the row changed: %+v", r)
		}
	})
}
