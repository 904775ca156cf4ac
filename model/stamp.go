package model

// StampColumn is the name of the object-version column.
const StampColumn = "obj_version"

// Stamp is embedded in a GORM model to version its rows. The column holds
// the encoded release that last wrote the row (see versions.Version.Stamp);
// 0 means "written before tandem". The compat plugin sets it on every write.
type Stamp struct {
	// ObjVersion is the encoded release of the last writer.
	ObjVersion int64 `gorm:"column:obj_version;type:bigint;not null;default:0;index" json:"-"`
}
