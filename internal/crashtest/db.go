package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// trialDB is the one database of a dialect that every trial of a run
// reuses: reset empties it before each trial, cheaper than creating a
// database per trial (about a second on PostgreSQL).
//
//   - SQLite: a new file per trial in a temporary directory.
//   - PostgreSQL: one database; reset ends every other session on it, then
//     drops and recreates the public schema.
//   - MySQL/MariaDB: one database name; reset kills every other session on
//     it, then drops and recreates the database (fast on MySQL).
type trialDB struct {
	d     dialect.Name
	name  string         // database name, or the SQLite directory
	admin *gorm.DB       // server connection (PostgreSQL, MySQL)
	base  dialect.Target // the server target, to derive the database's
	n     int            // trials so far (SQLite file names)

	dsn  string   // what the tandem binary is given
	pool *gorm.DB // the harness's own pool on the database
}

// gormConfig keeps the harness's GORM silent.
var gormConfig = &gorm.Config{Logger: logger.Discard}

// newTrialDB creates the database of dialect d for a run.
func newTrialDB(ctx context.Context, d dialect.Name) (*trialDB, error) {
	t := &trialDB{d: d}
	if d == dialect.SQLite {
		dir, err := os.MkdirTemp("", "tandem-crash-")
		if err != nil {
			return nil, err
		}
		t.name = dir
		return t, nil
	}
	base, err := dialect.ParseDSN(dbtest.ServerDSN(d))
	if err != nil {
		return nil, fmt.Errorf("%s server DSN: %w", d, err)
	}
	t.base = base
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t.admin, err = dialect.Open(octx, base, gormConfig)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	t.name = "tandem_crash_" + hex.EncodeToString(b[:])
	if d == dialect.Postgres {
		if err := t.admin.WithContext(ctx).Exec("CREATE DATABASE " + t.q(t.name)).Error; err != nil {
			t.close()
			return nil, fmt.Errorf("create the trial database: %w", err)
		}
	}
	return t, nil
}

func (t *trialDB) q(ident string) string { return dialect.QuoteIdent(t.d, ident) }

// reset gives the next trial an empty database, with the harness's pool
// open on it, and sets dsn. On SQLite, from names a file (see keep) whose
// copy the trial gets instead; "" means empty.
func (t *trialDB) reset(ctx context.Context, from string) error {
	t.closePool()
	t.n++
	var target dialect.Target
	var err error
	switch t.d {
	case dialect.SQLite:
		if t.n > 1 {
			removeSQLite(t.path(t.n - 1))
		}
		if from != "" {
			if err := copyFile(from, t.path(t.n)); err != nil {
				return fmt.Errorf("reset the trial database: %w", err)
			}
		}
		t.dsn = "sqlite:" + t.path(t.n)
		target, err = dialect.ParseDSN(t.dsn)
	case dialect.Postgres:
		if err := t.endSessions(ctx); err != nil {
			return err
		}
		target, err = t.base.WithDatabase(t.name)
		t.dsn = target.DSN
	case dialect.MySQL:
		if err := t.endSessions(ctx); err != nil {
			return err
		}
		db := t.admin.WithContext(ctx)
		if err := db.Exec("DROP DATABASE IF EXISTS " + t.q(t.name)).Error; err != nil {
			return fmt.Errorf("reset the trial database: %w", err)
		}
		if err := db.Exec("CREATE DATABASE " + t.q(t.name) + " CHARACTER SET utf8mb4").Error; err != nil {
			return fmt.Errorf("reset the trial database: %w", err)
		}
		target, err = t.base.WithDatabase(t.name)
		t.dsn = target.DSN
	}
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t.pool, err = dialect.Open(octx, target, gormConfig)
	if err != nil {
		return err
	}
	if sqlDB, err := t.pool.DB(); err == nil && t.d != dialect.SQLite {
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(2)
	}
	if t.d == dialect.Postgres {
		for _, q := range []string{"DROP SCHEMA IF EXISTS public CASCADE", "CREATE SCHEMA public"} {
			if err := t.pool.WithContext(ctx).Exec(q).Error; err != nil {
				return fmt.Errorf("reset the trial database: %s: %w", q, err)
			}
		}
	}
	return nil
}

// path is the file of the n-th SQLite trial.
func (t *trialDB) path(n int) string { return filepath.Join(t.name, fmt.Sprintf("trial%04d.db", n)) }

// keep copies the SQLite database as it is now into a file named name, for
// later trials to start from (reset): preparing a start point in process
// costs far more than copying it, above all under the race detector.
func (t *trialDB) keep(ctx context.Context, name string) (string, error) {
	// Everything into the main file, so that it alone is the database.
	if err := t.pool.WithContext(ctx).Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error; err != nil {
		return "", fmt.Errorf("checkpoint the start point: %w", err)
	}
	kept := filepath.Join(t.name, "start-"+name+".db")
	if err := copyFile(t.path(t.n), kept); err != nil {
		return "", err
	}
	return kept, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func removeSQLite(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		_ = os.Remove(path + suffix)
	}
}

// endSessions ends every session on the trial database, for instance that
// of a killed runner the server has not noticed yet, so that the reset does
// not wait for its locks. The harness's pool is closed before.
func (t *trialDB) endSessions(ctx context.Context) error {
	db := t.admin.WithContext(ctx)
	switch t.d {
	case dialect.Postgres:
		return db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()", t.name).Error
	case dialect.MySQL:
		var ids []int64
		if err := db.Raw("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", t.name).Scan(&ids).Error; err != nil {
			return err
		}
		for _, id := range ids {
			_ = db.Exec(fmt.Sprintf("KILL %d", id)).Error // it may have ended meanwhile
		}
	}
	return nil
}

func (t *trialDB) closePool() {
	if t.pool == nil {
		return
	}
	if sqlDB, err := t.pool.DB(); err == nil {
		_ = sqlDB.Close()
	}
	t.pool = nil
}

// close drops the database and closes every connection.
func (t *trialDB) close() {
	t.closePool()
	switch t.d {
	case dialect.SQLite:
		_ = os.RemoveAll(t.name)
		return
	}
	if t.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = t.endSessions(ctx)
	q := "DROP DATABASE IF EXISTS " + t.q(t.name)
	if t.d == dialect.Postgres {
		q += " WITH (FORCE)"
	}
	_ = t.admin.WithContext(ctx).Exec(q).Error
	if sqlDB, err := t.admin.DB(); err == nil {
		_ = sqlDB.Close()
	}
}
