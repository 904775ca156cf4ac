//go:build race

package fleet

// Race is true when this binary was built with the race detector; Build
// then builds the binaries with it too.
const Race = true
