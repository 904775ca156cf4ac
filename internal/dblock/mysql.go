package dblock

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// mysqlMaxLockName is the longest name GET_LOCK takes.
const mysqlMaxLockName = 64

// lockName is the GET_LOCK name of key on database: "key:database", or, when
// that is longer than MySQL allows, "tandem:" and a hash of it.
func lockName(key, database string) string {
	name := key + ":" + database
	if len(name) <= mysqlMaxLockName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "tandem:" + hex.EncodeToString(sum[:16])
}

// mysqlLockName reads the current database of c and names the lock.
func mysqlLockName(ctx context.Context, c *sql.Conn, key string) (string, error) {
	var database sql.NullString
	if err := c.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return "", fmt.Errorf("read the current database: %w", err)
	}
	return lockName(key, database.String), nil
}

// mysqlBackend is a GET_LOCK named lock of MySQL/MariaDB.
type mysqlBackend struct {
	name string
}

func (b mysqlBackend) try(ctx context.Context, c *sql.Conn) (bool, error) {
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", b.name).Scan(&got); err != nil {
		return false, fmt.Errorf("GET_LOCK: %w", err)
	}
	if !got.Valid {
		return false, fmt.Errorf("GET_LOCK(%q) returned NULL", b.name)
	}
	return got.Int64 == 1, nil
}

func (b mysqlBackend) release(ctx context.Context, c *sql.Conn) error {
	var released sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", b.name).Scan(&released); err != nil {
		return fmt.Errorf("RELEASE_LOCK: %w", err)
	}
	if released.Int64 != 1 {
		return fmt.Errorf("RELEASE_LOCK(%q): this session did not hold the lock", b.name)
	}
	return nil
}

func (b mysqlBackend) abort(ctx context.Context, c *sql.Conn) error {
	return b.release(ctx, c)
}

func (b mysqlBackend) holder(ctx context.Context, c *sql.Conn) string {
	var id sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", b.name).Scan(&id); err != nil || !id.Valid {
		return ""
	}
	var (
		user, host, command, state, info string
		secs                             int64
	)
	err := c.QueryRowContext(ctx, `SELECT COALESCE(USER, ''), COALESCE(HOST, ''), COALESCE(COMMAND, ''),
	COALESCE(TIME, 0), COALESCE(STATE, ''), COALESCE(INFO, '')
FROM information_schema.PROCESSLIST WHERE ID = ?`, id.Int64).Scan(&user, &host, &command, &secs, &state, &info)
	if err != nil {
		return describeSession("connection", id.Int64, nil, "")
	}
	details := []string{
		user + "@" + host,
		fmt.Sprintf("%s for %s", mysqlState(command, state, false), time.Duration(secs)*time.Second),
	}
	return describeSession("connection", id.Int64, details, info)
}

// mysqlHeld reports whether any connection holds the lock named by key on
// db's database.
func mysqlHeld(ctx context.Context, db *gorm.DB, key string) (bool, error) {
	var database sql.NullString
	if err := db.WithContext(ctx).Raw("SELECT DATABASE()").Scan(&database).Error; err != nil {
		return false, fmt.Errorf("read the current database: %w", err)
	}
	var id sql.NullInt64
	if err := db.WithContext(ctx).Raw("SELECT IS_USED_LOCK(?)", lockName(key, database.String)).Scan(&id).Error; err != nil {
		return false, err
	}
	return id.Valid, nil
}

// mysqlState names what a connection of PROCESSLIST is doing, the way
// PostgreSQL's pg_stat_activity would.
func mysqlState(command, state string, inTx bool) string {
	switch {
	case strings.EqualFold(command, "Sleep") && inTx:
		return "idle in transaction"
	case strings.EqualFold(command, "Sleep"):
		return "idle"
	case state != "":
		return strings.ToLower(command) + ", " + state
	}
	return strings.ToLower(command)
}
