package migrations

import (
	"fmt"
	"math"
	"time"
)

// DutyOff as BackfillOptions.Duty: the backfill never pauses for the
// service (the same as 0, the default).
const DutyOff = 1

// checkDuty refuses a BackfillOptions.Duty other than 0 or 1 (off) or a
// share from 0.1 to 0.9.
func checkDuty(d float64) error {
	if d == 0 || d == DutyOff {
		return nil
	}
	if math.IsNaN(d) || d < 0.1 || d > 0.9 {
		return fmt.Errorf("migrations: duty %v: want the share of the time the backfill works, from 0.1 to 0.9, e.g. 0.5, "+
			"or 0 or 1 (DutyOff, the default: no pauses)", d)
	}
	return nil
}

// dutyPause is how long to pause after a batch that took el so that the
// backfill works duty's share of the time: 0 when duty is off.
func dutyPause(duty float64, el time.Duration) time.Duration {
	if duty == 0 || duty == DutyOff {
		return 0
	}
	return time.Duration(float64(el) * (1 - duty) / duty)
}
