package model

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"gorm.io/gorm"
)

// Registry holds the specs of a service's models, keyed by table. It is
// safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]*Spec{}} }

// Register parses each model with db's schema cache and adds its spec. It
// checks every model and returns all refusals at once, joined; on error
// nothing is added.
func (r *Registry) Register(db *gorm.DB, models ...any) error {
	var specs []*Spec
	var errs []error
	for _, m := range models {
		s, err := SpecOf(db, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, s)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return r.Add(specs...)
}

// Add adds specs. A second spec for a table already held by another model
// type is refused with ErrConflict; adding the same model again is a no-op.
func (r *Registry) Add(specs ...*Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]*Spec{}
	for _, s := range specs {
		prev := r.specs[s.Table]
		if prev == nil {
			prev = seen[s.Table]
		}
		if prev != nil && prev.schema.ModelType != s.schema.ModelType {
			return &SpecError{Model: s.Model, Err: ErrConflict,
				Detail: fmt.Sprintf("table %s is already registered by model %s", s.Table, prev.Model)}
		}
		seen[s.Table] = s
	}
	for t, s := range seen {
		if r.specs[t] == nil {
			r.specs[t] = s
		}
	}
	return nil
}

// Lookup returns the spec of table.
func (r *Registry) Lookup(table string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[table]
	return s, ok
}

// Specs returns every spec, ordered by table.
func (r *Registry) Specs() []*Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
