package dblock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"

	"gorm.io/gorm"
)

// advisoryID turns a lock key into the 64-bit number of a PostgreSQL
// advisory lock: the FNV-1a hash of the key. pg_locks shows it split in two,
// the high 32 bits as classid and the low 32 bits as objid, with objsubid 1.
func advisoryID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64())
}

// pgBackend is the session-level advisory lock of PostgreSQL.
type pgBackend struct {
	id int64
}

func (b pgBackend) try(ctx context.Context, c *sql.Conn) (bool, error) {
	var ok bool
	if err := c.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", b.id).Scan(&ok); err != nil {
		return false, fmt.Errorf("pg_try_advisory_lock: %w", err)
	}
	return ok, nil
}

func (b pgBackend) release(ctx context.Context, c *sql.Conn) error {
	var ok bool
	if err := c.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", b.id).Scan(&ok); err != nil {
		return fmt.Errorf("pg_advisory_unlock: %w", err)
	}
	if !ok {
		return errors.New("pg_advisory_unlock: this session did not hold the lock")
	}
	return nil
}

func (b pgBackend) abort(ctx context.Context, c *sql.Conn) error {
	return b.release(ctx, c)
}

// pgHolderQuery finds the session that holds an advisory lock of this
// database, with what it is doing. $1 and $2 are the classid and objid.
const pgHolderQuery = `SELECT l.pid,
	COALESCE(a.application_name, ''), COALESCE(host(a.client_addr), ''),
	COALESCE(a.state, ''), COALESCE(a.query, '')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND l.classid::bigint = $1 AND l.objid::bigint = $2
ORDER BY l.pid
LIMIT 1`

// lockParts splits an advisory lock number as pg_locks shows it.
func lockParts(id int64) (classid, objid int64) {
	u := uint64(id)
	return int64(u >> 32), int64(u & 0xffffffff)
}

func (b pgBackend) holder(ctx context.Context, c *sql.Conn) string {
	classid, objid := lockParts(b.id)
	var (
		pid                     int64
		app, addr, state, query string
	)
	err := c.QueryRowContext(ctx, pgHolderQuery, classid, objid).Scan(&pid, &app, &addr, &state, &query)
	if err != nil {
		return ""
	}
	var details []string
	if app != "" {
		details = append(details, fmt.Sprintf("application %q", app))
	}
	if addr != "" {
		details = append(details, "client "+addr)
	}
	if state != "" {
		details = append(details, state)
	}
	return describeSession("pid", pid, details, query)
}

// pgHeld reports whether any session of db's database holds advisory lock id.
func pgHeld(ctx context.Context, db *gorm.DB, id int64) (bool, error) {
	classid, objid := lockParts(id)
	var n int64
	err := db.WithContext(ctx).Raw(`SELECT COUNT(*) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND classid::bigint = ? AND objid::bigint = ?`, classid, objid).Scan(&n).Error
	if err != nil {
		return false, err
	}
	return n > 0, nil
}
