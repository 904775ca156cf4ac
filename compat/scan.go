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
	// sql is the statement's SQL when it has Joins, to tell which joined
	// models' stamps it read (eachJoined).
	sql string
}

// markScan lets the logger find the statement after Scan has filled it.
// Only Scan's statements are marked: Scan runs them with a recorder for a
// logger (scanRecorderType). Row and Rows return the rows to the caller,
// who scans them later, so there is nothing to convert when their
// statement is logged, and the model they were given (Model(&c)) is left
// as it is, without a read of its deprecated columns in L(c).
func markScan(db *gorm.DB) {
	if reflect.TypeOf(db.Logger) != scanRecorderType {
		return
	}
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
		if len(db.Statement.Joins) > 0 {
			m.sql = db.Statement.SQL.String()
		}
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
	if m, ok := ctx.Value(scanKey{}).(*scanMark); ok && err == nil && (m.stampRead || m.sql != "") {
		if m.snap == nil {
			m.snap = l.p.snap.Load()
		}
		if m.snap.mode == ModeContract {
			// In L(c) the conversion may read the deprecated columns of
			// stale rows. Scan's statement runs with a recorder for a
			// logger, whose fc returns the last statement it saw: log the
			// Scan's own statement first, then convert (convertWith), so
			// that the conversion's read is logged too, after it.
			sql, rows := fc()
			l.Interface.Trace(ctx, begin, func() (string, int64) { return sql, rows }, err)
			l.convertWith(m)
			return
		}
		l.p.convertScanned(m)
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

// convertWith converts what Scan filled. While GORM's Scan runs, the
// logger of its DB is a recorder on Scan's own copy of the Config; the
// conversion runs with the wrapped logger (the application's, not the
// wrapper: the conversion's own statements must not convert again) in its
// place, and the recorder is put back after. A DB with another logger (not
// Scan's: markScan marks no other) has a Config its session may share, and
// is left alone.
func (l *scanLogger) convertWith(m *scanMark) {
	db := m.stmt.DB
	if db == nil || db.Config == nil || reflect.TypeOf(db.Config.Logger) != scanRecorderType {
		l.p.convertScanned(m)
		return
	}
	was := db.Config.Logger
	db.Config.Logger = l.Interface
	defer func() { db.Config.Logger = was }()
	l.p.convertScanned(m)
}

// scanRecorderType is the type of the logger GORM's Scan puts on its copy
// of the Config while it runs.
var scanRecorderType = reflect.TypeOf(logger.Recorder.New())

// convertScanned converts what Scan filled, as afterQuery converts what
// Find loaded: the statement's model when the SQL read its stamp, and the
// models loaded by Joins whose stamps it read. Scan has parsed the
// destination as the statement's schema by then: the models converted are
// the destination's (and its joined structs, found by the destination's
// relations, as Scan fills them).
func (p *Plugin) convertScanned(m *scanMark) {
	stmt, snap := m.stmt, m.snap
	if stmt.Schema == nil || !stmt.ReflectValue.IsValid() {
		return
	}
	if snap.mode == ModeContract && snap.state != versions.StateContractReady {
		return
	}
	if pl := p.planOf(stmt.DB, stmt.Schema, snap); m.stampRead && pl != nil && pl.changes && pl.spec.Upgrades {
		if err := p.convertScannedModels(stmt, snap, pl, tableOfRead(stmt.DB, pl), func(fn func(reflect.Value) error) error {
			return pl.eachModel(stmt.ReflectValue, fn)
		}); err != nil {
			_ = stmt.DB.AddError(fmt.Errorf("compat: upgrade scanned %s%s: %w", pl.spec.Model, inContract(snap), err))
			return
		}
	}
	if m.sql == "" {
		return
	}
	p.eachJoined(stmt.DB, snap, m.sql, func(jpl *modelPlan, models []reflect.Value) error {
		err := p.convertScannedModels(stmt, snap, jpl, quoteTable(stmt.DB, jpl.spec.Table), func(fn func(reflect.Value) error) error {
			for _, v := range models {
				if err := fn(v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("compat: upgrade scanned joined %s%s: %w", jpl.spec.Model, inContract(snap), err)
		}
		return nil
	})
}

// convertScannedModels upgrades the models each yields: in L(m) with the
// converter, in L(c) from a separate read of their deprecated columns in
// table (rows an older instance wrote and the backfill has not reached:
// their deprecated columns are read by key, converted and cleared).
func (p *Plugin) convertScannedModels(stmt *gorm.Statement, snap *snapshot, pl *modelPlan, table string, each func(func(reflect.Value) error) error) error {
	if snap.mode == ModeContract {
		var models []reflect.Value
		_ = each(func(v reflect.Value) error { models = append(models, v); return nil })
		return p.upgradeHidden(stmt.DB, pl, table, models)
	}
	return each(func(v reflect.Value) error { return pl.upgrade(stmt.Context, v) })
}

// inContract is " in L(c)" in L(c), for error messages.
func inContract(snap *snapshot) string {
	if snap.mode == ModeContract {
		return " in L(c)"
	}
	return ""
}
