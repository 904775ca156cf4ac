package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	p.inst.FollowsStamp = 0
	if snap.rel != p.release {
		p.inst.FollowsStamp = snap.rel.Stamp()
	}
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

// SpecJSON encodes a spec as the model registry records it.
func SpecJSON(s *model.Spec) string { return store.NewSpecDoc(s).JSON() }

// registerModels records every declared model in tandem_models.
func (p *Plugin) registerModels(ctx context.Context) error {
	for _, s := range p.declared {
		m := &store.ModelSpec{Release: p.release.String(), Table: s.Table, ReleaseStamp: p.release.Stamp(),
			Model: s.Model, Spec: SpecJSON(s), RegisteredAt: store.Now(), Instance: p.inst.ID}
		err := store.RegisterModel(ctx, p.db, m)
		if _, conflict := err.(*store.ConflictError); err != nil && !conflict {
			err = store.RegisterModel(ctx, p.db, m) // another instance inserted the table's row first: compare with it
		}
		if err != nil {
			return err
		}
	}
	return nil
}
