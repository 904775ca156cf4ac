// Package versions holds the vocabulary every other tandem package speaks:
// releases and their order, the object-version stamp a row carries, the
// phases of a schema change, migration identifiers, the release state
// machine and the composite schema version. It knows nothing of GORM or SQL.
//
// A release is MAJOR.MINOR[.PATCH]. Its stamp is an int64 that sorts like
// the release, so "is every row at 2.0 or later?" is a range query on an
// indexed column:
//
//	v := versions.MustParse("2.0")
//	fmt.Println(v.Stamp()) // 17179869184: rows with obj_version below it predate 2.0
//
//	id, err := versions.ParseMigrationID("2.0_expand01")
//	if err != nil {
//		return err // a *ParseError; errors.Is(err, versions.ErrInvalid)
//	}
//	fmt.Println(id.Release, id.Phase, id.Seq) // 2.0 expand 1
//
//	if err := versions.Transition(v, versions.StateExpanded, versions.StateContracted); err != nil {
//		fmt.Println(err) // names the release, both states and the legal next state
//	}
//
// A row written while its release was in L(c) carries MarkedStamp: the
// stamp with StampMarker set. DecodeStamp turns a stored stamp back into
// the release and the marker; stamp 0 means the row was written before
// tandem.
package versions
