package dblock

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// pgBlockingQuery lists the sessions that block backend $1 right now.
const pgBlockingQuery = `SELECT a.pid, COALESCE(a.state, ''), COALESCE(a.query, ''),
	COALESCE(a.xact_start, a.query_start, a.backend_start)
FROM pg_stat_activity a
WHERE a.pid = ANY(pg_blocking_pids($1))`

// pgSuspectsQuery lists, oldest first, the sessions of the current database
// other than backend $1 whose open transaction holds a lock on a table (on a
// relation that is not a system catalog). It is the guess made when the
// blockers could not be seen while the statement waited.
const pgSuspectsQuery = `SELECT a.pid, COALESCE(a.state, ''), COALESCE(a.query, ''), a.xact_start
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.pid <> $1
	AND a.xact_start IS NOT NULL
	AND EXISTS (SELECT 1 FROM pg_locks l
		WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation' AND l.relation >= 16384)
ORDER BY a.xact_start, a.pid
LIMIT 5`

// mysqlSuspectsQuery lists, oldest first, the connections to the current
// database other than ? whose InnoDB transaction is open. Any of them may
// hold the metadata lock a DDL statement waits for.
const mysqlSuspectsQuery = `SELECT t.trx_mysql_thread_id, COALESCE(p.COMMAND, ''), COALESCE(p.STATE, ''),
	COALESCE(p.INFO, t.trx_query, ''), t.trx_started
FROM information_schema.INNODB_TRX t
JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
WHERE t.trx_mysql_thread_id <> CONNECTION_ID() AND t.trx_mysql_thread_id <> ?
	AND p.DB = DATABASE()
ORDER BY t.trx_started, t.trx_mysql_thread_id
LIMIT 5`

// querier runs a query; *sql.DB, *sql.Conn and gorm.ConnPool all do.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// blockerFinder finds the sessions that keep a DDL statement on conn from
// taking its lock.
type blockerFinder struct {
	d     dialect.Name
	conn  *gorm.DB
	pool  *sql.DB // conn's pool, for a second connection; nil if unknown
	self  int64   // the backend pid / connection id of conn; 0 if unknown
	every time.Duration
}

func newBlockerFinder(ctx context.Context, conn *gorm.DB, lockTimeout time.Duration) *blockerFinder {
	f := &blockerFinder{d: dialect.Of(conn), conn: conn, pool: poolOf(conn), every: 100 * time.Millisecond}
	if lockTimeout > 0 {
		f.every = min(max(lockTimeout/5, 10*time.Millisecond), 500*time.Millisecond)
	}
	if bound(conn) {
		q := ""
		switch f.d {
		case dialect.Postgres:
			q = "SELECT pg_backend_pid()"
		case dialect.MySQL:
			q = "SELECT CONNECTION_ID()"
		}
		if q != "" {
			// A session in a failed transaction cannot answer; the
			// blockers are then only guessed.
			_ = conn.Statement.ConnPool.QueryRowContext(ctx, q).Scan(&f.self)
		}
	}
	return f
}

// poolOf returns the connection pool behind db, or nil.
func poolOf(db *gorm.DB) *sql.DB {
	if db == nil || db.Config == nil {
		return nil
	}
	switch p := db.Config.ConnPool.(type) {
	case *sql.DB:
		return p
	case gorm.GetDBConnector:
		if sqlDB, err := p.GetDBConn(); err == nil {
			return sqlDB
		}
	}
	return nil
}

// bound reports whether db runs every statement on one connection.
func bound(db *gorm.DB) bool {
	switch db.Statement.ConnPool.(type) {
	case *sql.Conn, *sql.Tx:
		return true
	}
	return false
}

// watch starts watching, from a second connection, the sessions that block
// conn's backend, until the returned stop is called; stop returns every
// blocker seen. It watches only on PostgreSQL, which tells through
// pg_blocking_pids.
func (f *blockerFinder) watch(ctx context.Context) (stop func() []Blocker) {
	if f.d != dialect.Postgres || f.pool == nil || f.self == 0 {
		return func() []Blocker { return nil }
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan []Blocker, 1)
	go func() { done <- f.poll(wctx) }()
	return func() []Blocker {
		cancel()
		return <-done
	}
}

// poll reads pg_blocking_pids of conn's backend every f.every until ctx ends.
// The first reading comes after f.every: a statement that gets its lock
// sooner was not held up, and costs no second connection.
func (f *blockerFinder) poll(ctx context.Context) []Blocker {
	if sleep(ctx, f.every) != nil {
		return nil
	}
	c, err := f.pool.Conn(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	seen := map[int64]Blocker{}
	for {
		bs, err := scanBlockers(ctx, c, pgBlockingQuery, f.self)
		if err == nil {
			for _, b := range bs {
				seen[b.PID] = b
			}
		}
		if sleep(ctx, f.every) != nil {
			break
		}
	}
	out := make([]Blocker, 0, len(seen))
	for _, b := range seen {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Blocker) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.PID, b.PID))
	})
	return out
}

// lookup guesses the blockers after the statement gave up waiting: the
// sessions whose open transaction may hold the lock. Errors mean no guess.
func (f *blockerFinder) lookup(ctx context.Context) []Blocker {
	var q querier = f.conn.Statement.ConnPool
	if f.pool != nil {
		q = f.pool
	}
	var (
		bs  []Blocker
		err error
	)
	switch f.d {
	case dialect.Postgres:
		bs, err = scanBlockers(ctx, q, pgSuspectsQuery, f.self)
	case dialect.MySQL:
		bs, err = scanMySQLBlockers(ctx, q, f.self)
	}
	if err != nil {
		return nil
	}
	return bs
}

// scanBlockers runs a query returning pid, state, query, since.
func scanBlockers(ctx context.Context, q querier, query string, args ...any) ([]Blocker, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Blocker
	for rows.Next() {
		var (
			b     Blocker
			since sql.NullTime
		)
		if err := rows.Scan(&b.PID, &b.State, &b.Query, &since); err != nil {
			return nil, err
		}
		b.Since = since.Time
		out = append(out, b)
	}
	return out, rows.Err()
}

// scanMySQLBlockers runs mysqlSuspectsQuery.
func scanMySQLBlockers(ctx context.Context, q querier, self int64) ([]Blocker, error) {
	rows, err := q.QueryContext(ctx, mysqlSuspectsQuery, self)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Blocker
	for rows.Next() {
		var (
			b              Blocker
			command, state string
			since          sql.NullTime
		)
		if err := rows.Scan(&b.PID, &command, &state, &b.Query, &since); err != nil {
			return nil, err
		}
		b.State = mysqlState(command, state, true)
		b.Since = since.Time
		out = append(out, b)
	}
	return out, rows.Err()
}

// maxQueryText is how much of a session's statement a message shows.
const maxQueryText = 200

// describeSession renders a session for a message:
// "pid 1234 (detail, detail): SELECT ...".
func describeSession(kind string, id int64, details []string, query string) string {
	s := fmt.Sprintf("%s %d", kind, id)
	if len(details) > 0 {
		s += " (" + strings.Join(details, ", ") + ")"
	}
	if q := oneLine(query); q != "" {
		s += ": " + q
	}
	return s
}

// oneLine squeezes the white space of a statement and shortens it.
func oneLine(query string) string {
	q := strings.Join(strings.Fields(query), " ")
	if r := []rune(q); len(r) > maxQueryText {
		q = string(r[:maxQueryText-3]) + "..."
	}
	return q
}
