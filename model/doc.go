// Package model declares how a GORM model takes part in tandem's upgrade protocol.
//
// A model opts in by embedding [Stamp], which adds the object-version column
// obj_version: the release that last wrote the row (0 means the row was
// written before tandem). The column name obj_version is reserved: any
// field mapped to it is the stamp, must be an int64, and is set by the
// compat plugin on every write. Fields that change between releases carry a
// `tandem` struct tag:
//
//	added=2.0                 the column is created by the 2.0 expand
//	deprecated=2.0            the column is hidden at 2.0(c) and dropped by the 2.0 contract
//	added=1.4,deprecated=2.0  both
//
// A model with transitional fields implements the converters: [Upgrader]
// fills the new fields from the deprecated ones for rows written by an older
// release, and [Downgrader] fills the deprecated fields from the new ones so
// the older release, still running, reads correct values.
//
// Example: release 2.0 splits Name into GivenName and FamilyName.
//
//	type Customer struct {
//		ID         uint
//		Name       string `tandem:"deprecated=2.0"`
//		GivenName  string `tandem:"added=2.0"`
//		FamilyName string `tandem:"added=2.0"`
//		model.Stamp
//	}
//
//	// TandemUpgrade fills the 2.0 fields of a row written by 1.x.
//	func (c *Customer) TandemUpgrade(from versions.Version) error {
//		c.GivenName, c.FamilyName, _ = strings.Cut(c.Name, " ")
//		return nil
//	}
//
//	// TandemDowngrade keeps Name correct for 1.x instances.
//	func (c *Customer) TandemDowngrade() error {
//		c.Name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
//		return nil
//	}
//
// [SpecOf] reads the declaration from GORM's parsed schema and refuses a
// malformed one with a [*SpecError]; a [Registry] holds the specs of a
// service's models.
package model
