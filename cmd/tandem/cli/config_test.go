package cli

import (
	"errors"
	"testing"

	"github.com/tandemdb/tandem/migrations"
)

// TestRedoLimitFlag: --redo-limit takes auto (the default, also when not
// given), off or 0, or a share from 0.2 to 0.9, and refuses anything else
// as a usage error (exit 2).
func TestRedoLimitFlag(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "auto": 0, "off": migrations.RedoOff, "0": migrations.RedoOff, "0.2": 0.2, "0.5": 0.5, " 0.9 ": 0.9} {
		c := &runConfig{redoLimit: in}
		c.backfill.RedoLimit = 42
		if err := c.checkRedoLimit(); err != nil || c.backfill.RedoLimit != want {
			t.Errorf("--redo-limit %q: %v, %v; want %v", in, c.backfill.RedoLimit, err, want)
		}
	}
	for _, in := range []string{"1.5", "0.1", "-1", "always", "NaN", "0.5x"} {
		c := &runConfig{redoLimit: in}
		err := c.checkRedoLimit()
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("--redo-limit %q: %v, want a usage error", in, err)
		}
	}
}

// TestDutyFlag: --duty takes auto (the default, also when not given), off
// or 1, or a share from 0.1 to 0.9, and refuses anything else as a usage
// error (exit 2).
func TestDutyFlag(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "auto": 0, "off": migrations.DutyOff, "1": migrations.DutyOff, "0.1": 0.1, "0.5": 0.5, "0.9": 0.9} {
		c := &runConfig{duty: in}
		c.backfill.Duty = 42
		if err := c.checkDuty(); err != nil || c.backfill.Duty != want {
			t.Errorf("--duty %q: %v, %v; want %v", in, c.backfill.Duty, err, want)
		}
	}
	for _, in := range []string{"0", "0.05", "0.95", "2", "-1", "half"} {
		c := &runConfig{duty: in}
		var u usageError
		if err := c.checkDuty(); !errors.As(err, &u) {
			t.Errorf("--duty %q: %v, want a usage error", in, err)
		}
	}
}
