package shop

import (
	"embed"
	"io/fs"
	"math"
	"strings"

	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// The two releases of the sample service.
var (
	V1 = versions.MustParse("1.0")
	V2 = versions.MustParse("2.0")
)

//go:embed migrations/*.sql
var files embed.FS

// Migrations returns the service's migration files.
func Migrations() fs.FS {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

// CustomerV1 is release 1.0's customer.
type CustomerV1 struct {
	ID    uint   `gorm:"primaryKey"`
	Name  string `gorm:"size:200"`
	Email string `gorm:"size:200"`
	model.Stamp
}

// TableName implements GORM's tabler.
func (CustomerV1) TableName() string { return "customers" }

// ParcelV1 is release 1.0's parcel, weighed in whole pounds.
type ParcelV1 struct {
	ID         uint `gorm:"primaryKey"`
	CustomerID uint
	WeightLb   int
	model.Stamp
}

// TableName implements GORM's tabler.
func (ParcelV1) TableName() string { return "parcels" }

// CustomerV2 is release 2.0's customer: Name is split in two.
type CustomerV2 struct {
	ID         uint   `gorm:"primaryKey"`
	Name       string `gorm:"size:200" tandem:"deprecated=2.0"`
	GivenName  string `gorm:"size:100" tandem:"added=2.0"`
	FamilyName string `gorm:"size:100" tandem:"added=2.0"`
	Email      string `gorm:"size:200"`
	model.Stamp
}

// TableName implements GORM's tabler.
func (CustomerV2) TableName() string { return "customers" }

// TandemUpgrade fills the 2.0 fields of a row written by 1.x.
func (c *CustomerV2) TandemUpgrade(versions.Version) error {
	c.GivenName, c.FamilyName = SplitName(c.Name)
	return nil
}

// TandemDowngrade keeps Name right for 1.x.
func (c *CustomerV2) TandemDowngrade() error {
	c.Name = JoinName(c.GivenName, c.FamilyName)
	return nil
}

// TandemDowngradeFromAdded tells the compat plugin that TandemDowngrade
// reads only the added fields, so an update that sets both of them is
// written in one UPDATE, without reading the row first. (ParcelV2 does not
// say so: with no weight in kilograms, its converter keeps the row's
// pounds, which it must read.)
func (*CustomerV2) TandemDowngradeFromAdded() {}

// ParcelV2 is release 2.0's parcel, weighed in kilograms.
type ParcelV2 struct {
	ID         uint `gorm:"primaryKey"`
	CustomerID uint
	WeightLb   int      `tandem:"deprecated=2.0"`
	WeightKg   *float64 `tandem:"added=2.0"`
	model.Stamp
}

// TableName implements GORM's tabler.
func (ParcelV2) TableName() string { return "parcels" }

// TandemUpgrade converts pounds to kilograms.
func (p *ParcelV2) TandemUpgrade(versions.Version) error {
	kg := LbToKg(p.WeightLb)
	p.WeightKg = &kg
	return nil
}

// TandemDowngrade converts kilograms back to whole pounds for 1.x.
func (p *ParcelV2) TandemDowngrade() error {
	if p.WeightKg != nil {
		p.WeightLb = KgToLb(*p.WeightKg)
	}
	return nil
}

// SplitName splits a full name at its first space.
func SplitName(name string) (given, family string) {
	given, family, _ = strings.Cut(strings.TrimSpace(name), " ")
	return given, family
}

// JoinName joins given and family name.
func JoinName(given, family string) string { return strings.TrimSpace(given + " " + family) }

const kgPerLb = 0.45359237

// LbToKg converts whole pounds to kilograms, to the gram.
func LbToKg(lb int) float64 { return math.Round(float64(lb)*kgPerLb*1000) / 1000 }

// KgToLb converts kilograms to whole pounds.
func KgToLb(kg float64) int { return int(math.Round(kg / kgPerLb)) }
