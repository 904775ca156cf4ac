package migrations

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
)

// The SQL backfill and the restamp: statements that change the rows in the
// database, with no model read in Go.

// setBatch runs a SQL backfill (or a restamp) on the rows where selects;
// the stale condition makes it safe against concurrent writers.
func (r *Runner) setBatch(ctx context.Context, tx *gorm.DB, j job, in string, args []any) (int, error) {
	stamp, table := r.q(j.table.Stamp), r.q(j.table.Table)
	var n int64
	if j.kind == BackfillSQL {
		// Rows older than the release that changed the table get the SET list.
		res := tx.WithContext(ctx).Exec("UPDATE "+table+" SET "+j.set+", "+stamp+" = ? WHERE "+in+" AND "+stamp+" < ?",
			append(append([]any{j.target.Stamp()}, args...), j.change.Stamp())...)
		if res.Error != nil {
			return 0, res.Error
		}
		n = res.RowsAffected
	}
	if j.change == j.target {
		// No row is stamped at or after change and below target: the
		// statement below would probe every key of the batch for nothing.
		return int(n), nil
	}
	// Rows already in the table's current shape only move their stamp.
	res := tx.WithContext(ctx).Exec("UPDATE "+table+" SET "+stamp+" = ? WHERE "+in+" AND "+stamp+" < ? AND "+stamp+" >= ?",
		append(append([]any{j.target.Stamp()}, args...), j.target.Stamp(), j.change.Stamp())...)
	return int(n + res.RowsAffected), res.Error
}

// rangeBatch runs a SQL backfill (or a restamp) of a table with a
// one-column key on the key range after the cursor that holds the next n
// stale rows: one query finds the n-th stale key, and the statements then
// walk a range of the key instead of probing a list of n keys. Rows that
// turn stale inside the range meanwhile are done too; the SET list is
// applied to each row as it is when the UPDATE reaches it.
func (r *Runner) rangeBatch(ctx context.Context, tx *gorm.DB, j job, st *store.Backfill, n int) (done, conflicts int, more bool, err error) {
	col := r.q(j.table.PrimaryKey[0])
	var conds []string
	var args []any
	if st.Cursor != "" {
		last, err := decodeKey(st.Cursor)
		if err != nil || len(last) != 1 {
			return 0, 0, false, fmt.Errorf("backfill cursor of %s: %q is not a one-column key", j.table.Table, st.Cursor)
		}
		conds, args = append(conds, col+" > ?"), append(args, last[0])
	}
	pred, pargs := r.stalePredicate(j)
	where := strings.Join(append(append([]string(nil), conds...), pred), " AND ")
	rows, err := tx.WithContext(ctx).Raw("SELECT "+col+" FROM "+r.q(j.table.Table)+" WHERE "+where+
		" ORDER BY "+col+fmt.Sprintf(" LIMIT 1 OFFSET %d", n-1), append(append([]any(nil), args...), pargs...)...).Rows()
	if err != nil {
		return 0, 0, false, err
	}
	var hi any
	found := rows.Next()
	if found {
		err = rows.Scan(&hi)
	}
	if err == nil {
		err = rows.Err()
	}
	rows.Close()
	if err != nil {
		return 0, 0, false, err
	}
	if b, ok := hi.([]byte); ok {
		hi = string(b)
	}
	if found {
		conds, args = append(conds, col+" <= ?"), append(args, hi)
	}
	if len(conds) == 0 {
		conds = []string{col + " IS NOT NULL"}
	}
	done, err = r.setBatch(ctx, tx, j, strings.Join(conds, " AND "), args)
	if err != nil || !found {
		return done, 0, false, err
	}
	st.Cursor, err = cursorOf([]any{hi})
	return done, 0, true, err
}
