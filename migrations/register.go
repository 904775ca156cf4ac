package migrations

import (
	"fmt"
	"sort"
	"sync"

	"github.com/tandemdb/tandem/versions"
)

var (
	registryMu sync.Mutex
	registered = map[string]GoMigration{}
)

// Register adds a Go migration to the process-wide set that every Runner
// built afterwards includes, typically from an init function of a service's
// migration package:
//
//	func init() { migrations.Register("2.0_migrate01", "1", splitNames) }
//
// revision feeds the checksum: change it when the function's effect changes,
// and tandem will treat an already applied migration as edited. Register
// panics on a malformed id or one registered twice: both are programming
// errors found at start-up.
func Register(id, revision string, fn GoFunc) {
	parsed, err := versions.ParseMigrationID(id)
	if err != nil {
		panic(fmt.Sprintf("migrations.Register: %v", err))
	}
	if parsed.Phase == versions.PhaseBaseline || fn == nil {
		panic(fmt.Sprintf("migrations.Register(%q): a Go migration needs an expand, migrate or contract id and a function", id))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	key := parsed.String()
	if _, dup := registered[key]; dup {
		panic(fmt.Sprintf("migrations.Register: %s registered twice", key))
	}
	registered[key] = GoMigration{ID: key, Func: fn, Revision: revision}
}

// Registered returns the Go migrations added with Register, ordered by id.
func Registered() []GoMigration {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]GoMigration, 0, len(registered))
	for _, g := range registered {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
