package store

import (
	"os"
	"os/user"
	"sync"
)

var actorOnce = sync.OnceValue(func() string {
	if a := os.Getenv("TANDEM_ACTOR"); a != "" {
		return a
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if u := os.Getenv("USER"); u != "" {
		name = u
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
})

// Actor names who is acting, as user@host; the TANDEM_ACTOR environment
// variable overrides it (for CI systems that run as a shared user).
func Actor() string { return actorOnce() }
