// Package buildinfo reports which tandem is running.
//
//	fmt.Println(buildinfo.Read())  // tandem 0.1.0 (go1.26.8, gorm v1.31.2)
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the version of tandem itself (not of a service's release).
const Version = "0.1.0-dev"

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"go"`
	GORM      string `json:"gorm"`
	Revision  string `json:"revision,omitempty"`
}

// Read returns the build information of the running binary.
func Read() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(), GORM: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "gorm.io/gorm" {
				info.GORM = d.Version
			}
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Revision = s.Value
			}
		}
	}
	return info
}

// String formats the information on one line.
func (i Info) String() string {
	s := fmt.Sprintf("tandem %s (%s, gorm %s", i.Version, i.GoVersion, i.GORM)
	if i.Revision != "" {
		s += ", " + i.Revision
	}
	return s + ")"
}
