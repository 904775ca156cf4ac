package workload_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/examples/shop/internal/workload"
)

func TestParseIDs(t *testing.T) {
	tests := []struct {
		rng, share string
		want       []uint
		err        string
	}{
		{"1-5", "", []uint{1, 2, 3, 4, 5}, ""},
		{"1-10", "1/4", []uint{1, 5, 9}, ""},
		{"1-10", "4/4", []uint{4, 8}, ""},
		{"11-20", "2/3", []uint{12, 15, 18}, ""},
		{"7-7", "", []uint{7}, ""},
		{"0-5", "", nil, "--id-range"},
		{"5-1", "", nil, "--id-range"},
		{"1-", "", nil, "--id-range"},
		{"1-10", "0/4", nil, "--share"},
		{"1-10", "5/4", nil, "--share"},
		{"1-10", "x", nil, "--share"},
		{"1-2", "3/3", nil, "holds no id"},
	}
	for _, tt := range tests {
		t.Run(tt.rng+" "+tt.share, func(t *testing.T) {
			ids, err := workload.ParseIDs(tt.rng, tt.share)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ids.List(); !slices.Equal(got, tt.want) {
				t.Errorf("List() = %v, want %v", got, tt.want)
			}
			for id := uint(0); id < 25; id++ {
				if ids.Has(id) != slices.Contains(tt.want, id) {
					t.Errorf("Has(%d) = %v", id, ids.Has(id))
				}
			}
		})
	}
}

// writeLog writes records to a log as a writer of release rel does.
func writeLog(t *testing.T, path, rel string, recs ...workload.Record) {
	t.Helper()
	l, err := workload.OpenLog(path, rel)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReplayAndCompare(t *testing.T) {
	dir := t.TempDir()
	seed, a, b := filepath.Join(dir, "seed.jsonl"), filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	writeLog(t, seed, "1.0",
		workload.Record{Kind: workload.KindCustomer, ID: 1, Op: workload.OpCreate, Name: "Ada Lovelace"},
		workload.Record{Kind: workload.KindParcel, ID: 1, Op: workload.OpCreate, Weight: 10, Unit: "lb"},
		workload.Record{Kind: workload.KindCustomer, ID: 2, Op: workload.OpCreate, Name: "Alan Turing"},
		workload.Record{Kind: workload.KindParcel, ID: 2, Op: workload.OpCreate, Weight: 3, Unit: "lb"})
	writeLog(t, a, "1.0", workload.Record{Kind: workload.KindParcel, ID: 1, Op: workload.OpSet, Weight: 12, Unit: "lb"})
	writeLog(t, b, "2.0",
		workload.Record{Kind: workload.KindCustomer, ID: 2, Op: workload.OpFamily, Family: "Hopper", Name: "Alan Hopper"},
		workload.Record{Kind: workload.KindParcel, ID: 2, Op: workload.OpSet, Weight: 1.5, Unit: "kg"})
	want, err := workload.Replay(seed, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Problems) > 0 || want.Writes != 7 || want.Names[2] != "Alan Hopper" || want.Kg[1] != shop.LbToKg(12) || want.Kg[2] != 1.5 {
		t.Fatalf("replay: %+v", want)
	}
	kg := func(v float64) *float64 { return &v }
	right := []workload.Customer{{ID: 1, GivenName: "Ada", Family: "Lovelace"}, {ID: 2, GivenName: "Alan", Family: "Hopper"}}
	if res := want.Compare(right, []workload.Parcel{{ID: 1, Kg: kg(shop.LbToKg(12))}, {ID: 2, Kg: kg(1.5)}}); !res.OK() {
		t.Errorf("right rows: %v %v", res, res.Differences())
	}
	res := want.Compare(
		[]workload.Customer{{ID: 1, GivenName: "Ada", Family: "Byron"}, {ID: 3, GivenName: "Grace", Family: "Hopper"}},
		[]workload.Parcel{{ID: 1, Kg: nil}, {ID: 2, Kg: kg(1.501)}})
	if len(res.Lost) != 1 || len(res.Wrong) != 3 || len(res.Extra) != 1 {
		t.Errorf("wrong rows: %v\n%s", res, strings.Join(res.Differences(), "\n"))
	}

	// A 2.0 writer that believed another given name read a wrong value.
	c := filepath.Join(dir, "c.jsonl")
	writeLog(t, c, "2.0", workload.Record{Kind: workload.KindCustomer, ID: 1, Op: workload.OpFamily, Family: "Byron", Name: "Augusta Byron"})
	if want, err = workload.Replay(seed, c); err != nil || len(want.Problems) != 1 || !strings.Contains(want.Problems[0], "a wrong read") {
		t.Errorf("replay of a wrong read: %v %v", err, want.Problems)
	}
}

func TestReadLogRejectsGarbage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(p, []byte("{\"seq\":1}\n{\"seq\":"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := workload.ReadLog(p); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("ReadLog of a cut line: %v", err)
	}
}
