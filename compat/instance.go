package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
)

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// ID returns the instance id this plugin registered under.
func (p *Plugin) ID() string { return p.inst.ID }

// beat writes the heartbeat with the state the plugin sees now.
func (p *Plugin) beat(ctx context.Context) error {
	snap := p.snap.Load()
	now := store.Now()
	p.inst.HeartbeatAt = now
	p.inst.ExpiresAt = now.Add(p.opts.ttl)
	p.inst.SeenState = string(snap.state)
	p.inst.Mode = string(snap.mode)
	return store.SaveInstance(ctx, p.db, &p.inst)
}

// heartbeat reports the instance every interval, and at once after a state
// change, until ctx ends.
func (p *Plugin) heartbeat(ctx context.Context) {
	t := time.NewTicker(p.opts.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.beatNow:
		}
		if err := p.beat(ctx); err != nil && ctx.Err() == nil {
			p.opts.logf("tandem: heartbeat: %v", err)
		}
	}
}

// specJSON is how a model's declaration is recorded in tandem_models.
type specJSON struct {
	Model      string      `json:"model"`
	Table      string      `json:"table"`
	PrimaryKey []string    `json:"primary_key"`
	Stamp      string      `json:"stamp"`
	Columns    []columnDef `json:"columns,omitempty"`
	Upgrades   bool        `json:"upgrades"`
	Downgrades bool        `json:"downgrades"`
}

type columnDef struct {
	Column     string `json:"column"`
	Field      string `json:"field"`
	Added      string `json:"added,omitempty"`
	Deprecated string `json:"deprecated,omitempty"`
}

// SpecJSON encodes a spec as the model registry records it.
func SpecJSON(s *model.Spec) string {
	j := specJSON{Model: s.Model, Table: s.Table, PrimaryKey: s.PrimaryKey, Stamp: s.StampColumn, Upgrades: s.Upgrades, Downgrades: s.Downgrades}
	for _, f := range s.Fields {
		c := columnDef{Column: f.Column, Field: f.Name}
		if !f.Added.IsZero() {
			c.Added = f.Added.String()
		}
		if !f.Deprecated.IsZero() {
			c.Deprecated = f.Deprecated.String()
		}
		j.Columns = append(j.Columns, c)
	}
	b, _ := json.Marshal(j)
	return string(b)
}

// registerModels records every declared model in tandem_models.
func (p *Plugin) registerModels(ctx context.Context) error {
	for _, s := range p.declared {
		m := &store.ModelSpec{Release: p.release.String(), Table: s.Table, ReleaseStamp: p.release.Stamp(),
			Model: s.Model, Spec: SpecJSON(s), RegisteredAt: store.Now(), Instance: p.inst.ID}
		if err := store.RegisterModel(ctx, p.db, m); err != nil {
			return err
		}
	}
	return nil
}
