package workload

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// What a record describes.
const (
	KindCustomer = "customer"
	KindParcel   = "parcel"
)

// What a write did.
const (
	OpCreate = "create" // inserted the row
	OpSet    = "set"    // wrote the whole logical value (Name, or Weight)
	OpFamily = "family" // release 2.0 wrote only the family name
)

// Record is one committed write: one JSON line of a writer's log. Its
// logical value is Name for a customer (the full name, as release 1.0 keeps
// it) and Weight in Unit for a parcel. Weights are never zero.
type Record struct {
	Seq     int64   `json:"seq"`
	Release string  `json:"release"`
	Kind    string  `json:"kind"`
	ID      uint    `json:"id"`
	Op      string  `json:"op"`
	Name    string  `json:"name,omitempty"`   // customer: the full name the writer meant
	Family  string  `json:"family,omitempty"` // OpFamily: the one column written
	Weight  float64 `json:"weight,omitempty"` // parcel: the weight in Unit
	Unit    string  `json:"unit,omitempty"`   // "lb" (release 1.0) or "kg" (release 2.0)
}

// Log appends records to a file, one JSON line each, written with a single
// write call once the write it records has committed. A process keeps its
// own log: two processes must not share a file.
type Log struct {
	mu      sync.Mutex
	f       *os.File
	release string
	seq     int64
}

// OpenLog opens (appends to) the log at path; path "" logs nothing.
func OpenLog(path, release string) (*Log, error) {
	l := &Log{release: release}
	if path == "" {
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open write log: %w", err)
	}
	l.f = f
	return l, nil
}

// Append stamps r with the next sequence number and the release and writes
// it.
func (l *Log) Append(r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	r.Seq, r.Release = l.seq, l.release
	if l.f == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// ReadLog reads every record of the log at path. A last line without its
// newline (a writer killed in the middle of it) is an error: such a write
// committed, but its value is unknown.
func ReadLog(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
