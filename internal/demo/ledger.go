package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/examples/shop"
)

// ledger knows every logical value the writers wrote: the last full name of
// each customer and the last weight of each parcel, as the release that
// wrote it expressed it.
type ledger struct {
	mu        sync.Mutex
	names     map[uint]string
	weights   map[uint]weight
	writes    atomic.Int64
	customers []uint // ids in creation order
}

type weight struct {
	lb    int     // written by 1.0
	kg    float64 // written by 2.0
	by1_0 bool
}

func newLedger() *ledger {
	return &ledger{names: map[uint]string{}, weights: map[uint]weight{}}
}

func (l *ledger) setName(id uint, name string) {
	l.mu.Lock()
	l.names[id] = name
	l.mu.Unlock()
	l.writes.Add(1)
}

func (l *ledger) setWeight(id uint, w weight) {
	l.mu.Lock()
	l.weights[id] = w
	l.mu.Unlock()
	l.writes.Add(1)
}

var (
	givenNames  = []string{"Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Ken", "Margaret", "Donald", "Radia"}
	familyNames = []string{"Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Allen", "Thompson", "Hamilton", "Knuth", "Perlman"}
)

func randomName(r *rand.Rand) (string, string) {
	return givenNames[r.Intn(len(givenNames))], familyNames[r.Intn(len(familyNames))]
}

// writer1 is a release 1.0 instance's traffic: it renames customers and
// reweighs parcels of its share (odd ids), and adds customers.
func writer1(ctx context.Context, db *gorm.DB, l *ledger, ids []uint, seed int64, stop <-chan struct{}) error {
	r := rand.New(rand.NewSource(seed))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		id := ids[r.Intn(len(ids))]
		g, f := randomName(r)
		if err := retry(func() error { return db.Model(&shop.CustomerV1{ID: id}).Update("name", g+" "+f).Error }); err != nil {
			return fmt.Errorf("1.0 writer: rename %d: %w", id, err)
		}
		l.setName(id, g+" "+f)
		lb := 1 + r.Intn(80)
		if err := retry(func() error { return db.Model(&shop.ParcelV1{ID: id}).Update("weight_lb", lb).Error }); err != nil {
			return fmt.Errorf("1.0 writer: reweigh %d: %w", id, err)
		}
		l.setWeight(id, weight{lb: lb, by1_0: true})
		time.Sleep(2 * time.Millisecond)
	}
}

// writer2 is a release 2.0 instance's traffic on its share (even ids): a
// partial update of the family name, a full save, and a new weight in kg.
func writer2(ctx context.Context, db *gorm.DB, l *ledger, ids []uint, seed int64, stop <-chan struct{}) error {
	r := rand.New(rand.NewSource(seed))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		id := ids[r.Intn(len(ids))]
		var c shop.CustomerV2
		if err := retry(func() error { c = shop.CustomerV2{}; return db.First(&c, id).Error }); err != nil {
			return fmt.Errorf("2.0 writer: read %d: %w", id, err)
		}
		if i%2 == 0 {
			_, f := randomName(r)
			if err := retry(func() error { return db.Model(&shop.CustomerV2{ID: id}).Update("family_name", f).Error }); err != nil {
				return fmt.Errorf("2.0 writer: update %d: %w", id, err)
			}
			l.setName(id, shop.JoinName(c.GivenName, f))
		} else {
			c.GivenName, c.FamilyName = randomName(r)
			if err := retry(func() error { return db.Save(&c).Error }); err != nil {
				return fmt.Errorf("2.0 writer: save %d: %w", id, err)
			}
			l.setName(id, shop.JoinName(c.GivenName, c.FamilyName))
		}
		kg := math.Round((0.5+r.Float64()*30)*1000) / 1000
		if err := retry(func() error { return db.Model(&shop.ParcelV2{ID: id}).Update("weight_kg", kg).Error }); err != nil {
			return fmt.Errorf("2.0 writer: reweigh %d: %w", id, err)
		}
		l.setWeight(id, weight{kg: kg})
		time.Sleep(2 * time.Millisecond)
	}
}

// check compares every row with the ledger and returns what differs.
func (l *ledger) check(db *gorm.DB) ([]string, error) {
	var cs []shop.CustomerV2
	if err := db.Order("id").Find(&cs).Error; err != nil {
		return nil, err
	}
	var ps []shop.ParcelV2
	if err := db.Order("id").Find(&ps).Error; err != nil {
		return nil, err
	}
	var bad []string
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(cs) != len(l.names) || len(ps) != len(l.weights) {
		bad = append(bad, fmt.Sprintf("%d customers and %d parcels, the writers made %d and %d", len(cs), len(ps), len(l.names), len(l.weights)))
	}
	for _, c := range cs {
		want, ok := l.names[c.ID]
		g, f := shop.SplitName(want)
		if !ok || c.GivenName != g || c.FamilyName != f {
			bad = append(bad, fmt.Sprintf("customer %d is %q %q, want %q", c.ID, c.GivenName, c.FamilyName, want))
		}
	}
	for _, p := range ps {
		w, ok := l.weights[p.ID]
		want := w.kg
		if w.by1_0 {
			want = shop.LbToKg(w.lb)
		}
		if !ok || p.WeightKg == nil || math.Abs(*p.WeightKg-want) > 1e-9 {
			got := "NULL"
			if p.WeightKg != nil {
				got = fmt.Sprint(*p.WeightKg)
			}
			bad = append(bad, fmt.Sprintf("parcel %d weighs %s kg, want %v", p.ID, got, want))
		}
	}
	sort.Strings(bad)
	return bad, nil
}
