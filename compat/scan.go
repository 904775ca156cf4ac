package compat

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Scan (and Raw(...).Scan) reads rows through GORM's Row callbacks and
// scans them afterwards, with no callback after the scan. The only hook GORM
// calls after it is the logger's Trace, with the statement's context. So the
// Row callback puts the statement into its context, and the plugin wraps the
// DB's logger to apply the upgrade converter to what Scan filled.

type scanKey struct{}

// markScan lets the logger find the statement after Scan has filled it.
func markScan(db *gorm.DB) {
	if db.Statement.Context == nil {
		db.Statement.Context = context.Background()
	}
	db.Statement.Context = context.WithValue(db.Statement.Context, scanKey{}, db.Statement)
}

// scanLogger wraps the DB's logger to convert models filled by Scan.
type scanLogger struct {
	logger.Interface
	p *Plugin
}

// LogMode keeps the wrapper around a logger whose mode changes.
func (l *scanLogger) LogMode(level logger.LogLevel) logger.Interface {
	return &scanLogger{Interface: l.Interface.LogMode(level), p: l.p}
}

// Trace implements logger.Interface.
func (l *scanLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if stmt, ok := ctx.Value(scanKey{}).(*gorm.Statement); ok && err == nil {
		l.p.convertScanned(stmt)
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

func (p *Plugin) convertScanned(stmt *gorm.Statement) {
	if stmt.Schema == nil || !stmt.ReflectValue.IsValid() || p.snap.Load().mode != ModeDual {
		return
	}
	pl := p.planOf(stmt.DB, stmt.Schema)
	if pl == nil || !pl.changes || !pl.spec.Upgrades {
		return
	}
	if err := pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error { return pl.upgrade(stmt.Context, v) }); err != nil {
		_ = stmt.DB.AddError(fmt.Errorf("compat: upgrade scanned %s: %w", pl.spec.Model, err))
	}
}
