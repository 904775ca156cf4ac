package versions_test

import (
	"errors"
	"fmt"

	"github.com/tandemdb/tandem/versions"
)

func Example() {
	v := versions.MustParse("2.0")
	fmt.Println(v, v.Stamp(), v.MarkedStamp())

	id, err := versions.ParseMigrationID("2.0_expand01")
	fmt.Println(id.Release, id.Phase, id.Seq, err)

	_, err = versions.ParseMigrationID("2.0_expand1")
	fmt.Println(errors.Is(err, versions.ErrInvalid))

	err = versions.Transition(v, versions.StateExpanded, versions.StateContracted)
	fmt.Println(err)

	var s versions.SchemaVersion
	s.Set(versions.ReleaseHeads{Release: v, Expand: 3, Contract: 1})
	fmt.Println(s)
	// Output:
	// 2.0 17179869184 17179869185
	// 2.0 expand 1 <nil>
	// true
	// versions: release 2.0 cannot go from "expanded" to "contracted": from expanded it may only go to contract-ready
	// 2.0_expand03, 2.0_contract01
}
