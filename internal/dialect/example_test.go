package dialect_test

import (
	"fmt"

	"github.com/tandemdb/tandem/internal/dialect"
)

func ExampleParseDSN() {
	t, err := dialect.ParseDSN("mysql://app:s3cret@db:3306/shop")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Dialect)
	fmt.Println(t)

	_, err = dialect.ParseDSN("oracle://scott:tiger@db/orcl")
	fmt.Println(err != nil)
	// Output:
	// mysql
	// app:xxxxx@tcp(db:3306)/shop?parseTime=true&multiStatements=false
	// true
}

func ExampleRedact() {
	fmt.Println(dialect.Redact("postgres://app:p%40ss@db:5432/shop?sslmode=disable"))
	fmt.Println(dialect.Redact("host=db user=app password='se cret' dbname=shop"))
	// Output:
	// postgres://app:xxxxx@db:5432/shop?sslmode=disable
	// host=db user=app password=xxxxx dbname=shop
}
