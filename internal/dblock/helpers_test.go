package dblock_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// bind returns a *gorm.DB on one connection of g's pool, the way
// db.Connection hands one to its callback. The connection goes back to the
// pool at cleanup.
func bind(t *testing.T, g *gorm.DB) *gorm.DB {
	t.Helper()
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	c, err := sqlDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	conn := g.Session(&gorm.Session{NewDB: true, Context: context.Background()})
	conn.Statement.ConnPool = c
	return conn
}

// sessionID returns the PostgreSQL backend pid or MySQL connection id of a
// bound conn, and 0 on SQLite.
func sessionID(t *testing.T, conn *gorm.DB) int64 {
	t.Helper()
	var q string
	switch dialect.Of(conn) {
	case dialect.Postgres:
		q = "SELECT pg_backend_pid()"
	case dialect.MySQL:
		q = "SELECT CONNECTION_ID()"
	default:
		return 0
	}
	var id int64
	if err := conn.Raw(q).Scan(&id).Error; err != nil {
		t.Fatalf("read session id: %v", err)
	}
	return id
}

// logRecorder collects Logf lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *logRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// idsOf returns the ids of table, sorted, as one string like "1,3".
func idsOf(t *testing.T, g *gorm.DB, table string) string {
	t.Helper()
	var ids []string
	if err := g.Raw("SELECT id FROM " + table + " ORDER BY id").Scan(&ids).Error; err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return strings.Join(ids, ",")
}
