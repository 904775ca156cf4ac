// Package dblock keeps two tandem runners from changing one database at the
// same time, and keeps PostgreSQL schema changes from stalling the service
// while they wait for their table locks.
//
// The runner lock is taken on one dedicated connection and the work is done
// through the *gorm.DB the lock returns: a session-level advisory lock on
// PostgreSQL, GET_LOCK on MySQL/MariaDB, and an exclusive transaction on
// SQLite, where every migration becomes a savepoint and the work becomes
// durable only at Release. A runner that dies loses the lock with its
// session.
//
// RetryDDL runs a schema change with a short lock_timeout, retries it with
// backoff when it times out, and, when it gives up, names the sessions that
// held the lock.
//
// Example:
//
//	err := db.Connection(func(conn *gorm.DB) error {
//		lock, err := dblock.Acquire(ctx, conn, dblock.Options{Key: "tandem", Timeout: time.Minute})
//		if err != nil {
//			return err // *dblock.LockTimeoutError names who holds it
//		}
//		work := lock.DB()
//		err = dblock.RetryDDL(ctx, work, dblock.DDLOptions{}, func(ctx context.Context) error {
//			return work.WithContext(ctx).Exec("ALTER TABLE orders ADD COLUMN note text").Error
//		})
//		if err != nil {
//			_ = lock.Abort(ctx)
//			return err // *dblock.DDLBlockedError names the blocking sessions
//		}
//		return lock.Release(ctx)
//	})
package dblock
