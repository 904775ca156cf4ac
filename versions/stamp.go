package versions

// Stamp layout: bit 0 is the marker, patch in bits 1..16, minor in bits
// 17..32, major in bits 33..48. Bits 49..63 are always clear.
const (
	patchShift = 1
	minorShift = 17
	majorShift = 33
	stampBits  = 49
	maxStamp   = int64(1)<<stampBits - 1
)

// StampMarker is the low bit of a stamp. A marked stamp means "written while
// this release was in L(c)": the row's deprecated fields were not filled and
// must be refilled before the previous release may run again.
const StampMarker int64 = 1

// Stamp encodes v as the int64 stored in a row's object-version column.
// Stamps sort exactly like versions, the marker bit is clear, the zero
// Version encodes as 0 and every other version as a positive number.
func (v Version) Stamp() int64 {
	return int64(v.Major)<<majorShift | int64(v.Minor)<<minorShift | int64(v.Patch)<<patchShift
}

// MarkedStamp is Stamp with StampMarker set: the row was written by release
// v while v was in L(c). It sorts after v.Stamp() and before the stamp of
// every later version.
func (v Version) MarkedStamp() int64 { return v.Stamp() | StampMarker }

// DecodeStamp is the inverse of Stamp and MarkedStamp. Stamp 0 decodes to
// the zero Version, unmarked, meaning "written before tandem". A negative
// stamp or one with bits above the encoded range is a *StampError, which
// matches ErrInvalid.
func DecodeStamp(stamp int64) (v Version, marked bool, err error) {
	if stamp < 0 || stamp > maxStamp {
		return Version{}, false, &StampError{Stamp: stamp}
	}
	v = Version{
		Major: uint16(stamp >> majorShift),
		Minor: uint16(stamp >> minorShift),
		Patch: uint16(stamp >> patchShift),
	}
	return v, stamp&StampMarker != 0, nil
}
