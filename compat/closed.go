package compat

import (
	"errors"

	"gorm.io/gorm"
)

// ErrClosed is the error of a statement on a stamped model sent through a
// plugin after its Close: the instance has left the registry and its view
// of the release states is no longer refreshed, so operators could set the
// flag or contract without seeing its writes.
var ErrClosed = errors.New("compat: the plugin is closed; statements on versioned models are refused (close the plugin after the service's last statement)")

// refuseClosed runs first in every callback chain. It costs one atomic load
// while the plugin is open.
func (p *Plugin) refuseClosed(db *gorm.DB) {
	if !p.closed.Load() || db.Error != nil {
		return
	}
	if p.planFor(db, p.snap.Load()) != nil {
		_ = db.AddError(ErrClosed)
	}
}

// beforeDelete refuses a Delete whose conditions, or a subquery of them,
// name a field hidden in the current mode (a struct or map condition, or a
// column in a clause), before any SQL is sent, as queries and updates do.
func (p *Plugin) beforeDelete(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	snap := p.snap.Load()
	if err := p.checkSubqueries(db, snap); err != nil {
		_ = db.AddError(err)
		return
	}
	pl := p.planFor(db, snap)
	if pl == nil {
		return
	}
	if hidden, cols := pl.hiddenIn(snap.mode); len(cols) > 0 {
		if err := pl.checkClauses(hidden, db.Statement); err != nil {
			_ = db.AddError(err)
		}
	}
}
