package compat

import (
	"errors"
	"fmt"
	"time"
)

// Option configures a Plugin. Options validate their input: New reports the
// first invalid one from Initialize.
type Option func(*options) error

type options struct {
	models       []any
	poll         time.Duration
	heartbeat    time.Duration
	ttl          time.Duration
	startTimeout time.Duration
	listen       bool
	logf         func(format string, args ...any)
}

func defaultOptions() options {
	return options{poll: 2 * time.Second, heartbeat: 5 * time.Second, ttl: 30 * time.Second, listen: true,
		logf: func(string, ...any) {}}
}

// WithModels declares the service's models. Their specs are checked at
// Initialize (a malformed declaration fails it), recorded in the database's
// model registry so that the CLI can compute coverage and gates, and used by
// the start-up guard.
func WithModels(models ...any) Option {
	return func(o *options) error { o.models = append(o.models, models...); return nil }
}

// WithPollInterval sets how often the plugin reloads the release states
// (default 2s). On PostgreSQL a notification also reloads them at once.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("compat: poll interval must be positive, not %s", d)
		}
		o.poll = d
		return nil
	}
}

// WithHeartbeat sets how often the instance reports itself (default 5s) and
// after how long without a report it counts as gone (default 30s). The TTL
// must exceed the interval.
func WithHeartbeat(interval, ttl time.Duration) Option {
	return func(o *options) error {
		if interval <= 0 || ttl <= interval {
			return fmt.Errorf("compat: heartbeat interval %s must be positive and below its TTL %s", interval, ttl)
		}
		o.heartbeat, o.ttl = interval, ttl
		return nil
	}
}

// WithStartTimeout makes Initialize wait up to d for this release's expand
// to be applied instead of failing at once, logging what it waits for.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return errors.New("compat: negative start timeout")
		}
		o.startTimeout = d
		return nil
	}
}

// WithoutListen turns PostgreSQL LISTEN/NOTIFY off; the plugin then relies on
// polling alone, as on the other dialects.
func WithoutListen() Option {
	return func(o *options) error { o.listen = false; return nil }
}

// WithLogf sets where the plugin logs (default: nowhere).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) error {
		if logf != nil {
			o.logf = logf
		}
		return nil
	}
}
