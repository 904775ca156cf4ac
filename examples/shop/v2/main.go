// Command shop-v2 (examples/shop/v2) is release 2.0 of the sample shop
// service: the customer's name is split into given and family name, parcels
// are weighed in kilograms. With shop-v1 and examples/shop/shop-tandem it
// lets you rehearse a rolling upgrade by hand (docs/walkthrough.md):
//
//	go run ./examples/shop/v2 write  --dsn postgres://... --id-range 1-300 --share 3/3 --log c.jsonl
//	go run ./examples/shop/v2 read   --dsn postgres://...
//	go run ./examples/shop/v2 verify --dsn postgres://... --log seed.jsonl --log a.jsonl --log c.jsonl
//
// It installs tandem's compat plugin as release 2.0. Until 2.0 is
// contract-ready the plugin runs in L(m): every write also fills the
// deprecated columns for release 1.0, and rows 1.0 wrote are converted as
// they are read. The start-up guard refuses it (exit code 3, with the
// reason) until `shop-tandem expand --release 2.0` has run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/examples/shop/internal/workload"
	"github.com/tandemdb/tandem/internal/dialect"
)

func main() { os.Exit(run(os.Args[1:])) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "shop 2.0: "+format+"\n", args...)
}

func run(args []string) int {
	cfg, err := workload.ParseArgs("shop-v2", []string{"seed", "write", "read", "verify"}, args)
	if errors.Is(err, flag.ErrHelp) {
		return workload.ExitOK
	} else if err != nil {
		logf("%v", err)
		return workload.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGPIPE) // `read | head` must not kill it before Close deregisters the instance

	db, err := dialect.OpenDSN(ctx, cfg.DSN, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		logf("%v", err)
		return workload.ExitError
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	plugin := compat.New(shop.V2, append(cfg.PluginOptions(),
		compat.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}), compat.WithLogf(logf))...)
	if code := workload.Start(db, plugin, logf); code != workload.ExitOK {
		return code
	}
	defer func() {
		if err := plugin.Close(); err != nil {
			logf("deregister instance %s: %v", plugin.ID(), err)
		}
	}()
	go workload.WatchMode(ctx, plugin, logf)

	svc := service{db: db}
	switch cfg.Mode {
	case "read":
		return svc.read(ctx, cfg.JSON)
	case "verify":
		return svc.verify(ctx, cfg.Logs)
	}
	log, err := workload.OpenLog(cfg.Log(), shop.V2.String())
	if err != nil {
		logf("%v", err)
		return workload.ExitError
	}
	defer log.Close()
	var st workload.Stats
	if cfg.Mode == "seed" {
		logf("seed %s", cfg.IDs)
		st, err = workload.Seed(ctx, db, svc, cfg, log)
	} else {
		logf("write %s at %v writes/s", cfg.IDs, cfg.Rate)
		st, err = workload.Write(ctx, db, svc, cfg, log)
	}
	if err != nil {
		logf("stopped by an error after %s: %v", st, err)
		return workload.ExitError
	}
	logf("stopped after %s", st)
	return workload.ExitOK
}

// service is release 2.0's traffic. It never names the deprecated columns:
// the plugin fills them for release 1.0 while 2.0 is in L(m).
type service struct{ db *gorm.DB }

func randomKg(r *rand.Rand) float64 { return math.Round((0.5+r.Float64()*30)*1000) / 1000 }

func (s service) CreateCustomer(ctx context.Context, id uint, r *rand.Rand) (workload.Record, error) {
	c := shop.CustomerV2{ID: id, GivenName: workload.GivenName(r), FamilyName: workload.FamilyName(r), Email: workload.Email(id)}
	if err := s.db.WithContext(ctx).Create(&c).Error; err != nil {
		return workload.Record{}, err
	}
	return workload.Record{Kind: workload.KindCustomer, ID: id, Op: workload.OpCreate, Name: shop.JoinName(c.GivenName, c.FamilyName)}, nil
}

func (s service) CreateParcel(ctx context.Context, id uint, r *rand.Rand) (workload.Record, error) {
	kg := randomKg(r)
	if err := s.db.WithContext(ctx).Create(&shop.ParcelV2{ID: id, CustomerID: id, WeightKg: &kg}).Error; err != nil {
		return workload.Record{}, err
	}
	return workload.Record{Kind: workload.KindParcel, ID: id, Op: workload.OpCreate, Weight: kg, Unit: "kg"}, nil
}

// Update changes the family name alone (a partial update: the plugin reads
// the given name to keep the old name column right), renames the customer
// (read and Save, or an Updates of both columns) or reweighs the parcel.
func (s service) Update(ctx context.Context, id uint, r *rand.Rand) (workload.Record, error) {
	db := s.db.WithContext(ctx)
	rec := workload.Record{Kind: workload.KindCustomer, ID: id, Op: workload.OpSet}
	given, family := workload.GivenName(r), workload.FamilyName(r)
	var err error
	switch r.Intn(4) {
	case 0:
		var c shop.CustomerV2
		if err := db.First(&c, id).Error; err != nil {
			return workload.Record{}, err
		}
		err = db.Model(&shop.CustomerV2{ID: id}).Update("family_name", family).Error
		rec.Op, rec.Family, given = workload.OpFamily, family, c.GivenName
	case 1:
		var c shop.CustomerV2
		if err := db.First(&c, id).Error; err != nil {
			return workload.Record{}, err
		}
		c.GivenName, c.FamilyName = given, family
		err = db.Save(&c).Error
	case 2:
		err = db.Model(&shop.CustomerV2{ID: id}).Updates(map[string]any{"given_name": given, "family_name": family}).Error
	default:
		kg := randomKg(r)
		err = db.Model(&shop.ParcelV2{ID: id}).Update("weight_kg", kg).Error
		return workload.Record{Kind: workload.KindParcel, ID: id, Op: workload.OpSet, Weight: kg, Unit: "kg"}, err
	}
	rec.Name = shop.JoinName(given, family)
	return rec, err
}

func (s service) load(ctx context.Context) ([]shop.CustomerV2, []shop.ParcelV2, error) {
	var cs []shop.CustomerV2
	var ps []shop.ParcelV2
	err := s.db.WithContext(ctx).Order("id").Find(&cs).Error
	if err == nil {
		err = s.db.WithContext(ctx).Order("id").Find(&ps).Error
	}
	return cs, ps, err
}

// read prints every customer with its parcel as release 2.0 sees them.
func (s service) read(ctx context.Context, asJSON bool) int {
	cs, ps, err := s.load(ctx)
	if err != nil {
		logf("read: %v", err)
		return workload.ExitError
	}
	kg := map[uint]*float64{}
	for _, p := range ps {
		kg[p.ID] = p.WeightKg
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, c := range cs {
			_ = enc.Encode(map[string]any{"id": c.ID, "given_name": c.GivenName, "family_name": c.FamilyName,
				"email": c.Email, "weight_kg": kg[c.ID], "version": workload.VersionOf(c.ObjVersion)})
		}
		return workload.ExitOK
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGIVEN NAME\tFAMILY NAME\tWEIGHT\tVERSION")
	for _, c := range cs {
		w := "-"
		if v := kg[c.ID]; v != nil {
			w = fmt.Sprintf("%.3f kg", *v)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", c.ID, c.GivenName, c.FamilyName, w, workload.VersionOf(c.ObjVersion))
	}
	fmt.Fprintf(tw, "(%d customers, %d parcels)\n", len(cs), len(ps))
	_ = tw.Flush()
	return workload.ExitOK
}

// verify replays the logs and compares every row, as release 2.0 reads it,
// with the last write the logs hold for it. Run it when no writer runs.
func (s service) verify(ctx context.Context, logs []string) int {
	want, err := workload.Replay(logs...)
	if err != nil {
		logf("verify: %v", err)
		return workload.ExitError
	}
	cs, ps, err := s.load(ctx)
	if err != nil {
		logf("verify: %v", err)
		return workload.ExitError
	}
	var rows []workload.Customer
	for _, c := range cs {
		rows = append(rows, workload.Customer{ID: c.ID, GivenName: c.GivenName, Family: c.FamilyName})
	}
	var parcels []workload.Parcel
	for _, p := range ps {
		parcels = append(parcels, workload.Parcel{ID: p.ID, Kg: p.WeightKg})
	}
	res := want.Compare(rows, parcels)
	fmt.Println(want.Summary())
	fmt.Println(res)
	bad := append(want.Problems, res.Differences()...)
	for i, d := range bad {
		if i == 20 {
			fmt.Printf("... and %d more\n", len(bad)-20)
			break
		}
		fmt.Println("  " + d)
	}
	if len(bad) > 0 {
		return workload.ExitError
	}
	fmt.Println("ok: every row holds the last value written to it; nothing was lost")
	return workload.ExitOK
}
