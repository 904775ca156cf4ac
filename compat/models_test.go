package compat_test

import (
	"strings"

	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// CustomerV1 is release 1.0's view of the customers table.
type CustomerV1 struct {
	ID      uint `gorm:"primaryKey"`
	Name    string
	Email   string
	OrderID *uint
	model.Stamp
}

func (CustomerV1) TableName() string { return "customers" }

// CustomerV2 is release 2.0's: Name is split into GivenName and FamilyName.
type CustomerV2 struct {
	ID         uint   `gorm:"primaryKey"`
	Name       string `tandem:"deprecated=2.0"`
	GivenName  string `gorm:"size:100" tandem:"added=2.0"`
	FamilyName string `gorm:"size:100" tandem:"added=2.0"`
	Email      string
	OrderID    *uint
	model.Stamp
}

func (CustomerV2) TableName() string { return "customers" }

// TandemUpgrade fills the 2.0 fields from Name for rows written by 1.x.
func (c *CustomerV2) TandemUpgrade(from versions.Version) error {
	c.GivenName, c.FamilyName, _ = strings.Cut(c.Name, " ")
	return nil
}

// TandemDowngrade keeps Name right for 1.x instances.
func (c *CustomerV2) TandemDowngrade() error {
	c.Name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	return nil
}

// Order has customers (Preload) and a buyer (Joins).
type Order struct {
	ID        uint `gorm:"primaryKey"`
	Label     string
	BuyerID   *uint
	Buyer     *CustomerV2  `gorm:"foreignKey:BuyerID"`
	Customers []CustomerV2 `gorm:"foreignKey:OrderID"`
}
