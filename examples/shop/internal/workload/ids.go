package workload

import (
	"fmt"
	"strconv"
	"strings"
)

// IDs is the set of customer ids one writer owns: the ids of a range, or
// only every N-th of them (its share K of N). A customer and its parcel
// share their id.
type IDs struct {
	Lo, Hi uint // the range, inclusive
	K, N   uint // the share: ids with (id-Lo) % N == K-1
}

// ParseIDs reads --id-range ("1-400") and --share ("2/4", "" for all).
func ParseIDs(rng, share string) (IDs, error) {
	lo, hi, ok := strings.Cut(rng, "-")
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
	b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 32)
	if !ok || err1 != nil || err2 != nil || a == 0 || b < a {
		return IDs{}, fmt.Errorf("--id-range %q: want FIRST-LAST with 1 <= FIRST <= LAST, e.g. 1-400", rng)
	}
	s := IDs{Lo: uint(a), Hi: uint(b), K: 1, N: 1}
	if share == "" {
		return s, nil
	}
	k, n, ok := strings.Cut(share, "/")
	kk, err1 := strconv.ParseUint(strings.TrimSpace(k), 10, 32)
	nn, err2 := strconv.ParseUint(strings.TrimSpace(n), 10, 32)
	if !ok || err1 != nil || err2 != nil || kk == 0 || kk > nn {
		return IDs{}, fmt.Errorf("--share %q: want K/N with 1 <= K <= N, e.g. 2/4 for the second quarter of the ids", share)
	}
	s.K, s.N = uint(kk), uint(nn)
	if len(s.List()) == 0 {
		return IDs{}, fmt.Errorf("--share %s of --id-range %s holds no id", share, rng)
	}
	return s, nil
}

// Has reports whether id is in the set.
func (s IDs) Has(id uint) bool {
	return id >= s.Lo && id <= s.Hi && (id-s.Lo)%s.N == s.K-1
}

// List returns the ids in increasing order.
func (s IDs) List() []uint {
	var ids []uint
	for id := s.Lo + s.K - 1; id <= s.Hi; id += s.N {
		ids = append(ids, id)
	}
	return ids
}

// String describes the set, e.g. "ids 1-400 share 2/4 (100 ids)".
func (s IDs) String() string {
	if s.N == 1 {
		return fmt.Sprintf("ids %d-%d (%d ids)", s.Lo, s.Hi, s.Hi-s.Lo+1)
	}
	return fmt.Sprintf("ids %d-%d share %d/%d (%d ids)", s.Lo, s.Hi, s.K, s.N, len(s.List()))
}
