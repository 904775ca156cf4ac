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

// DowngradeFromAdded is implemented by a model (on its pointer) whose
// TandemDowngrade computes the deprecated fields from the fields added in
// the same release and from nothing else. The compat plugin then converts
// an update that sets every added field without reading the row first, and
// can convert such an update of many rows (a Where without a primary key).
//
// Implement it only when that holds: for such updates the plugin runs
// TandemDowngrade on a model that holds the update's values and zero
// everywhere else.
type DowngradeFromAdded interface {
	Downgrader
	TandemDowngradeFromAdded()
}
