package dialect_test

import (
	"testing"

	"github.com/tandemdb/tandem/internal/dialect"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"postgres://root:hunter2@db:5432/app", "postgres://root:xxxxx@db:5432/app"},
		{"postgres://root@db/app", "postgres://root@db/app"},
		{"postgresql://u:p%40ss%2Fw@db/app?sslmode=disable", "postgresql://u:xxxxx@db/app?sslmode=disable"},
		{"postgres://u:p@ss@db/app", "postgres://u:xxxxx@db/app"},
		{"postgres://u:p?ss@db/app?sslmode=disable", "postgres://u:xxxxx@db/app?sslmode=disable"},
		{"postgres://u:p/s#s@db/app", "postgres://u:xxxxx@db/app"},
		{"postgres://db/app?user=u&password=hunter2&sslmode=disable", "postgres://db/app?user=u&password=xxxxx&sslmode=disable"},
		{"postgres://u:a@db/app?sslpassword=k3y", "postgres://u:xxxxx@db/app?sslpassword=xxxxx"},
		{"host=db user=u password=hunter2 dbname=app", "host=db user=u password=xxxxx dbname=app"},
		{`host=db password='a b\'c' dbname=app`, "host=db password=xxxxx dbname=app"},
		{"host=db password = hunter2", "host=db password = xxxxx"},
		{"host=db password='unterminated", "host=db password=xxxxx"},
		{"host=db sslpassword=k3y", "host=db sslpassword=xxxxx"},
		{"host=db dbname=app", "host=db dbname=app"},
		{"mysql://app:s3cret@db:3306/shop", "mysql://app:xxxxx@db:3306/shop"},
		{"app:s3cret@tcp(db:3306)/shop?parseTime=true", "app:xxxxx@tcp(db:3306)/shop?parseTime=true"},
		{"app:p@ss:w/rd@tcp(db:3306)/shop", "app:xxxxx@tcp(db:3306)/shop"},
		{"app:s3cret@/shop", "app:xxxxx@/shop"},
		{"root:@tcp(127.0.0.1:3306)/", "root:@tcp(127.0.0.1:3306)/"},
		{"root@tcp(127.0.0.1:3306)/x", "root@tcp(127.0.0.1:3306)/x"},
		{"oracle://scott:tiger@db/orcl", "oracle://scott:xxxxx@db/orcl"},
		{"sqlite:/tmp/a@b:c.db", "sqlite:/tmp/a@b:c.db"},
		{"/data/x:y@z/app.db", "/data/x:y@z/app.db"},
		{"file:app.db?mode=ro", "file:app.db?mode=ro"},
		{":memory:", ":memory:"},
		{"", ""},
		{"garbage", "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := dialect.Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := dialect.Redact(got); again != got {
				t.Errorf("Redact is not idempotent: %q then %q", got, again)
			}
		})
	}
}
