package compat

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/versions"
)

// Scan (and Raw(...).Scan) reads rows through GORM's Row callbacks and
// scans them afterwards, with no callback after the scan. The only hook GORM
// calls after it is the logger's Trace, with the statement's context. So the
// Row callback puts the statement into its context, and the plugin wraps the
// DB's logger to apply the upgrade converter to what Scan filled.

type scanKey struct{}

// scanMark is what the Row callbacks leave for the logger: the statement,
// and whether its SQL read the stamp (GORM clears the SQL once the
// statement has run, before Scan fills the models).
type scanMark struct {
	stmt      *gorm.Statement
	stampRead bool
	snap      *snapshot // the snapshot the query was built with, if the plugin tracked it
}

// markScan lets the logger find the statement after Scan has filled it.
func markScan(db *gorm.DB) {
	if db.Statement.Context == nil {
		db.Statement.Context = context.Background()
	}
	db.Statement.Context = context.WithValue(db.Statement.Context, scanKey{}, &scanMark{stmt: db.Statement, stampRead: true})
}

// markScanned records, after the Row callback built and ran the SQL,
// whether it read the stamp.
func markScanned(db *gorm.DB) {
	if m, ok := db.Statement.Context.Value(scanKey{}).(*scanMark); ok && m.stmt == db.Statement {
		m.stampRead = stampRead(db.Statement)
		if st := current(db); st != nil {
			m.snap = st.snap
		}
	}
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
	if m, ok := ctx.Value(scanKey{}).(*scanMark); ok && err == nil && m.stampRead {
		l.p.convertScanned(m.stmt, m.snap)
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

func (p *Plugin) convertScanned(stmt *gorm.Statement, snap *snapshot) {
	if stmt.Schema == nil || !stmt.ReflectValue.IsValid() {
		return
	}
	if snap == nil {
		snap = p.snap.Load()
	}
	if snap.mode == ModeContract && snap.state != versions.StateContractReady {
		return
	}
	pl := p.planOf(stmt.DB, stmt.Schema, snap)
	if pl == nil || !pl.changes || !pl.spec.Upgrades {
		return
	}
	if snap.mode == ModeContract {
		// Rows an older instance wrote and the backfill has not reached:
		// their deprecated columns are read by key, converted and cleared.
		var models []reflect.Value
		_ = pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error { models = append(models, v); return nil })
		if err := p.upgradeHidden(stmt.DB, pl, tableOfRead(stmt.DB, pl), models); err != nil {
			_ = stmt.DB.AddError(fmt.Errorf("compat: upgrade scanned %s in L(c): %w", pl.spec.Model, err))
		}
		return
	}
	if err := pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error { return pl.upgrade(stmt.Context, v) }); err != nil {
		_ = stmt.DB.AddError(fmt.Errorf("compat: upgrade scanned %s: %w", pl.spec.Model, err))
	}
}
