package dblock_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
)

func ExampleAcquire() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "dblock-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := dialect.OpenDSN(ctx, "sqlite:"+filepath.Join(dir, "app.db"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}

	// All the work happens on one connection, under the lock.
	err = db.Connection(func(conn *gorm.DB) error {
		lock, err := dblock.Acquire(ctx, conn, dblock.Options{Key: "tandem", Timeout: time.Minute})
		if err != nil {
			return err // a *dblock.LockTimeoutError names who holds it
		}
		work := lock.DB()
		err = dblock.RetryDDL(ctx, work, dblock.DDLOptions{}, func(ctx context.Context) error {
			return work.WithContext(ctx).Exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT)").Error
		})
		if err != nil {
			_ = lock.Abort(ctx)
			return err // a *dblock.DDLBlockedError names the blocking sessions
		}
		return lock.Release(ctx)
	})
	held, _ := dblock.Held(ctx, db, "tandem")
	fmt.Println(err, held, db.Migrator().HasTable("orders"))
	// Output: <nil> false true
}
