// Command shop-v1 (examples/shop/v1) is release 1.0 of the sample shop
// service: customers with one name, parcels weighed in whole pounds. With
// shop-v2 and examples/shop/shop-tandem it lets you rehearse a rolling
// upgrade by hand (docs/walkthrough.md):
//
//	go run ./examples/shop/v1 seed  --dsn postgres://... --id-range 1-300 --log seed.jsonl
//	go run ./examples/shop/v1 write --dsn postgres://... --id-range 1-300 --share 1/3 --log a.jsonl
//	go run ./examples/shop/v1 read  --dsn postgres://...
//
// It installs tandem's compat plugin as release 1.0. The plugin's start-up
// guard refuses it (exit code 3, with the reason) once release 2.0 is
// contract-ready. SIGTERM or SIGINT stops it after the write in flight; the
// plugin's Close then removes the instance from tandem_instances.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
	fmt.Fprintf(os.Stderr, "shop 1.0: "+format+"\n", args...)
}

func run(args []string) int {
	cfg, err := workload.ParseArgs("shop-v1", []string{"seed", "write", "read"}, args)
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
	// The one line a service adds for tandem: the plugin, with its release
	// and its models.
	plugin := compat.New(shop.V1, append(cfg.PluginOptions(),
		compat.WithModels(&shop.CustomerV1{}, &shop.ParcelV1{}), compat.WithLogf(logf))...)
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
		if err := svc.read(ctx, cfg.JSON); err != nil {
			logf("read: %v", err)
			return workload.ExitError
		}
		return workload.ExitOK
	}
	log, err := workload.OpenLog(cfg.Log(), shop.V1.String())
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

// service is release 1.0's traffic, written through GORM as any service
// would: the plugin stamps every row with 1.0.
type service struct{ db *gorm.DB }

func (s service) CreateCustomer(ctx context.Context, id uint, r *rand.Rand) (workload.Record, error) {
	c := shop.CustomerV1{ID: id, Name: workload.GivenName(r) + " " + workload.FamilyName(r), Email: workload.Email(id)}
	if err := s.db.WithContext(ctx).Create(&c).Error; err != nil {
		return workload.Record{}, err
	}
	return workload.Record{Kind: workload.KindCustomer, ID: id, Op: workload.OpCreate, Name: c.Name}, nil
}

func (s service) CreateParcel(ctx context.Context, id uint, r *rand.Rand) (workload.Record, error) {
	p := shop.ParcelV1{ID: id, CustomerID: id, WeightLb: 1 + r.Intn(80)}
	if err := s.db.WithContext(ctx).Create(&p).Error; err != nil {
		return workload.Record{}, err
	}
	return workload.Record{Kind: workload.KindParcel, ID: id, Op: workload.OpCreate, Weight: float64(p.WeightLb), Unit: "lb"}, nil
}

// Update renames the customer (an UPDATE of one column, or a read and a
// Save of the whole row) or reweighs the parcel.
func (s service) Update(ctx context.Context, id uint, r *rand.Rand) (workload.Record, error) {
	db := s.db.WithContext(ctx)
	name := workload.GivenName(r) + " " + workload.FamilyName(r)
	switch r.Intn(3) {
	case 0:
		if err := db.Model(&shop.CustomerV1{ID: id}).Update("name", name).Error; err != nil {
			return workload.Record{}, err
		}
	case 1:
		var c shop.CustomerV1
		if err := db.First(&c, id).Error; err != nil {
			return workload.Record{}, err
		}
		c.Name = name
		if err := db.Save(&c).Error; err != nil {
			return workload.Record{}, err
		}
	default:
		lb := 1 + r.Intn(80)
		if err := db.Model(&shop.ParcelV1{ID: id}).Update("weight_lb", lb).Error; err != nil {
			return workload.Record{}, err
		}
		return workload.Record{Kind: workload.KindParcel, ID: id, Op: workload.OpSet, Weight: float64(lb), Unit: "lb"}, nil
	}
	return workload.Record{Kind: workload.KindCustomer, ID: id, Op: workload.OpSet, Name: name}, nil
}

// read prints every customer with its parcel as release 1.0 sees them.
func (s service) read(ctx context.Context, asJSON bool) error {
	db := s.db.WithContext(ctx)
	var cs []shop.CustomerV1
	if err := db.Order("id").Find(&cs).Error; err != nil {
		return err
	}
	var ps []shop.ParcelV1
	if err := db.Order("id").Find(&ps).Error; err != nil {
		return err
	}
	lb := map[uint]int{}
	for _, p := range ps {
		lb[p.ID] = p.WeightLb
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, c := range cs {
			w, ok := lb[c.ID]
			row := map[string]any{"id": c.ID, "name": c.Name, "email": c.Email, "version": workload.VersionOf(c.ObjVersion)}
			if ok {
				row["weight_lb"] = w
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tWEIGHT\tVERSION")
	for _, c := range cs {
		w := "-"
		if v, ok := lb[c.ID]; ok {
			w = fmt.Sprintf("%d lb", v)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", c.ID, c.Name, w, workload.VersionOf(c.ObjVersion))
	}
	fmt.Fprintf(tw, "(%d customers, %d parcels)\n", len(cs), len(ps))
	return tw.Flush()
}
