package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dialect"
)

// ErrExists is wrapped by the error Backup returns when the output file
// already exists: a backup never overwrites anything.
var ErrExists = errors.New("refusing to overwrite an existing file")

// ErrNotEmpty is wrapped by the error Restore returns when the target
// database already holds tables.
var ErrNotEmpty = errors.New("restore target is not empty")

// Result describes a backup that was written.
type Result struct {
	// File is the absolute path of the backup.
	File string `json:"file"`
	// Bytes is its size.
	Bytes int64 `json:"bytes"`
	// Tool is what wrote it: the path of pg_dump, mariadb-dump or
	// mysqldump as run, or "VACUUM INTO" for SQLite.
	Tool string `json:"tool"`
	// Duration is how long the backup took.
	Duration time.Duration `json:"duration_ns"`
}

// Backup writes a backup of the database of target t to file out with the
// dialect's own tool:
//
//   - PostgreSQL: pg_dump in custom format (-Fc), which pg_restore reads;
//   - MySQL/MariaDB: mariadb-dump, else mysqldump, with --single-transaction
//     --routines --triggers (plus --hex-blob and utf8mb4); the dump names no
//     database, so it restores into any;
//   - SQLite: VACUUM INTO, run through db, which must be open on t (db is
//     not used for the other dialects and may be nil).
//
// Each reads one consistent snapshot while the service keeps writing.
//
// Backup refuses to overwrite an existing file (ErrExists); the file is
// created readable by the current user only. The tools are found as
// described in the package documentation; a missing one gives a
// *ToolMissingError (errors.Is(err, ErrToolMissing)) and no file. A tool
// that fails gives a *ToolError carrying its stderr, with the password
// removed, and the partial file is removed. The password reaches the tools
// through PGPASSWORD or a temporary option file, never their command line.
func Backup(ctx context.Context, db *gorm.DB, t dialect.Target, out string) (*Result, error) {
	start := time.Now()
	res, err := backup(ctx, db, t, out)
	if err != nil {
		return nil, fmt.Errorf("back up %s database %s: %w", t.Dialect, t.Database(), err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

func backup(ctx context.Context, db *gorm.DB, t dialect.Target, out string) (*Result, error) {
	if out == "" {
		return nil, errors.New("no output file given")
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, fmt.Errorf("output file %s: %w", out, err)
	}
	var tool string
	switch t.Dialect {
	case dialect.Postgres:
		tool, err = pgDumpTool.look()
	case dialect.MySQL:
		tool, err = mysqlDumpTool.look()
	case dialect.SQLite:
		tool = sqliteTool
	default:
		err = fmt.Errorf("%w %q", dialect.ErrUnknownDialect, t.Dialect)
	}
	if err != nil {
		return nil, err
	}

	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w %s; choose another file name or move the old backup away", ErrExists, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("create backup file: %w", err)
	}
	switch t.Dialect {
	case dialect.Postgres:
		err = postgresDump(ctx, t, tool, f)
	case dialect.MySQL:
		err = mysqlDump(ctx, t, tool, f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && t.Dialect == dialect.SQLite {
		err = sqliteDump(ctx, db, abs)
	}
	if err != nil {
		_ = os.Remove(abs)
		return nil, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("backup written but unreadable: %w", err)
	}
	return &Result{File: abs, Bytes: info.Size(), Tool: tool}, nil
}

// Restore loads the backup file, written by Backup for the same dialect,
// into the database of target t, which must exist and hold no tables
// (ErrNotEmpty otherwise). It is for tests and for operators:
//
//   - PostgreSQL: pg_restore --single-transaction --exit-on-error
//     --no-owner, so it applies whole or not at all and the restoring user
//     owns what it creates;
//   - MySQL/MariaDB: the backup is fed to mariadb (else mysql);
//   - SQLite: the file is copied over t's database file. Stop every process
//     that has it open first.
//
// Tools are found, and their failures reported, as for Backup.
func Restore(ctx context.Context, t dialect.Target, file string) error {
	if err := restore(ctx, t, file); err != nil {
		return fmt.Errorf("restore %s into %s database %s: %w", file, t.Dialect, t.Database(), err)
	}
	return nil
}

func restore(ctx context.Context, t dialect.Target, file string) error {
	var (
		tool string
		err  error
	)
	switch t.Dialect {
	case dialect.Postgres:
		tool, err = pgRestoreTool.look()
	case dialect.MySQL:
		tool, err = mysqlClientTool.look()
	case dialect.SQLite:
		_, err = sqlitePath(t)
	default:
		err = fmt.Errorf("%w %q", dialect.ErrUnknownDialect, t.Dialect)
	}
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	if err := ensureEmpty(ctx, t); err != nil {
		return err
	}
	switch t.Dialect {
	case dialect.Postgres:
		return postgresRestore(ctx, t, tool, abs)
	case dialect.MySQL:
		return mysqlRestore(ctx, t, tool, abs)
	default:
		return sqliteRestore(t, abs)
	}
}

// ensureEmpty refuses a target that holds tables. A missing SQLite file is
// empty.
func ensureEmpty(ctx context.Context, t dialect.Target) error {
	if t.Dialect == dialect.SQLite {
		path, _ := sqlitePath(t)
		if info, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) || (err == nil && info.Size() == 0) {
			return nil
		}
	}
	db, err := dialect.Open(ctx, t, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	tables, err := db.WithContext(ctx).Migrator().GetTables()
	if err != nil {
		return fmt.Errorf("list the tables of the target: %w", err)
	}
	if len(tables) > 0 {
		return fmt.Errorf("%w: it holds %d table(s), e.g. %s; restore into a new, empty database", ErrNotEmpty, len(tables), tables[0])
	}
	return nil
}
