package model

import "github.com/tandemdb/tandem/versions"

// Upgrader is implemented by a model (on its pointer) whose newer release
// adds fields derived from deprecated ones. TandemUpgrade fills the added
// fields from the deprecated ones; from is the release stamped on the row
// (the zero Version for rows written before tandem).
type Upgrader interface {
	TandemUpgrade(from versions.Version) error
}

// Downgrader is implemented by a model (on its pointer) whose deprecated
// fields are still read by the previous release. TandemDowngrade fills the
// deprecated fields from the new ones before the row is written.
type Downgrader interface {
	TandemDowngrade() error
}
