package compat

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// Name is the name the plugin registers under in GORM.
const Name = "tandem:compat"

// ErrZeroRelease is returned by Initialize for a plugin built with release
// 0.0, which is reserved for rows written before tandem.
var ErrZeroRelease = errors.New("compat: release 0.0 is reserved for rows written before tandem; construct the plugin with the release this binary implements")

// Plugin is the tandem GORM plugin for one running release. Build it with
// New and install it with (*gorm.DB).Use.
type Plugin struct {
	release versions.Version
	stamp   atomic.Int64 // value written into obj_version
	specs   sync.Map     // *schema.Schema -> specEntry
}

type specEntry struct {
	spec *model.Spec
	err  error
}

// New returns a plugin for the given running release.
func New(release versions.Version) *Plugin {
	p := &Plugin{release: release}
	p.stamp.Store(release.Stamp())
	return p
}

// Name implements gorm.Plugin.
func (p *Plugin) Name() string { return Name }

// Release returns the release the plugin runs as.
func (p *Plugin) Release() versions.Version { return p.release }

// Initialize implements gorm.Plugin: it registers the plugin's callbacks.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if p.release.IsZero() {
		return ErrZeroRelease
	}
	cb := db.Callback()
	if err := cb.Create().After("gorm:before_create").Before("gorm:create").
		Register("tandem:stamp_create", p.stampCreate); err != nil {
		return fmt.Errorf("compat: register create callback: %w", err)
	}
	if err := cb.Update().After("gorm:before_update").Before("gorm:update").
		Register("tandem:stamp_update", p.stampUpdate); err != nil {
		return fmt.Errorf("compat: register update callback: %w", err)
	}
	return nil
}

// specFor returns the spec of the statement's model, or nil when the
// statement has no model or the model is not stamped. The spec is computed
// once per parsed schema; GORM's schema itself is never modified.
func (p *Plugin) specFor(db *gorm.DB) *model.Spec {
	s := db.Statement.Schema
	if s == nil {
		return nil
	}
	e, ok := p.specs.Load(s)
	if !ok {
		spec, err := model.NewSpec(s)
		e, _ = p.specs.LoadOrStore(s, specEntry{spec: spec, err: err})
	}
	entry := e.(specEntry)
	if entry.err != nil {
		_ = db.AddError(fmt.Errorf("compat: %w", entry.err))
		return nil
	}
	if !entry.spec.Stamped() {
		return nil
	}
	return entry.spec
}

// stampValue is the value written into obj_version by this instance now.
func (p *Plugin) stampValue() int64 { return p.stamp.Load() }

var _ gorm.Plugin = (*Plugin)(nil)
