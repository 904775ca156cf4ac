package demo

import (
	"time"

	"github.com/tandemdb/tandem/internal/dblock"
)

// retry runs fn again after a retryable error, a few times.
func retry(fn func() error) error {
	var err error
	for i := 0; i < 8; i++ {
		if err = fn(); !dblock.IsTransient(err) {
			return err
		}
		time.Sleep(time.Duration(10*(i+1)) * time.Millisecond)
	}
	return err
}
