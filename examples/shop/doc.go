// Package shop is tandem's sample service: a shop whose release 2.0 splits
// the customer's name into given and family name, and replaces the parcel
// weight in whole pounds by kilograms. It holds the models of both
// releases and the migration files; cmd/tandem's demo and the two example
// binaries (examples/shop/v1, examples/shop/v2) use it.
package shop
