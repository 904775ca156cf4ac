package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// sqliteTool is the Result.Tool of an SQLite backup.
const sqliteTool = "VACUUM INTO"

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// sqliteDump writes a consistent copy of the database db is open on to
// file, which must not exist or be empty. VACUUM INTO reads one snapshot,
// so writers on other connections neither block it nor tear the copy.
func sqliteDump(ctx context.Context, db *gorm.DB, file string) error {
	if db == nil {
		return errors.New("an SQLite backup is taken through the open database: db is nil")
	}
	if n := dialect.Of(db); n != dialect.SQLite {
		return fmt.Errorf("an SQLite backup is taken through the open database, but db is %q", n)
	}
	if err := db.WithContext(ctx).Exec("VACUUM INTO ?", file).Error; err != nil {
		return fmt.Errorf("VACUUM INTO: %w", err)
	}
	return nil
}

// sqlitePath returns the file of an SQLite target; an in-memory database
// has none.
func sqlitePath(t dialect.Target) (string, error) {
	base, query, _ := strings.Cut(t.DSN, "?")
	q, _ := url.ParseQuery(query)
	if base == "" || base == ":memory:" || base == "file::memory:" || q.Get("mode") == "memory" {
		return "", fmt.Errorf("%s is an in-memory database, which has no file to restore into", t)
	}
	if !strings.HasPrefix(base, "file:") {
		return base, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("read SQLite URI %s: %w", base, err)
	}
	if u.Opaque != "" {
		return url.PathUnescape(u.Opaque)
	}
	return u.Path, nil
}

// sqliteRestore copies file over the database file of t. The copy is
// written next to it and renamed into place, and the write-ahead log,
// shared-memory index and rollback journal of the old file are removed
// first, so the new file is never read through them. No process may have
// the database open meanwhile.
func sqliteRestore(t dialect.Target, file string) error {
	path, err := sqlitePath(t)
	if err != nil {
		return err
	}
	src, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open backup: %w", err)
	}
	defer src.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(src, head); err != nil || !bytes.Equal(head, sqliteMagic) {
		return fmt.Errorf("%s is not an SQLite database file", file)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".restore-*")
	if err != nil {
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if info, err := os.Stat(path); err == nil {
		_ = tmp.Chmod(info.Mode().Perm()) // keep the old file's permissions
	}
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("copy backup to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("copy backup to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("copy backup to %s: %w", tmp.Name(), err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s of the old database: %w", path+suffix, err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	return nil
}
