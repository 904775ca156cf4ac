package sqlsplit_test

import (
	"errors"
	"fmt"

	"github.com/tandemdb/tandem/internal/sqlsplit"
)

func ExampleSplit() {
	src := `-- tandem:no-transaction
CREATE INDEX CONCURRENTLY users_email_idx ON users (email);

-- The ';' inside the dollar quote does not end the statement.
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
`
	stmts, opts, err := sqlsplit.Split(sqlsplit.Postgres, src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("no transaction:", opts.NoTransaction)
	for _, st := range stmts {
		fmt.Printf("line %d: %.40s...\n", st.Line, st.SQL)
	}
	// Output:
	// no transaction: true
	// line 2: CREATE INDEX CONCURRENTLY users_email_id...
	// line 5: CREATE FUNCTION touch() RETURNS trigger ...
}

func ExampleSyntaxError() {
	_, _, err := sqlsplit.Split(sqlsplit.MySQL, "SELECT 1;\nSELECT 'it\\'s;\n")
	var se *sqlsplit.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Reason)
		fmt.Println(err)
	}
	// Output:
	// 2 unterminated string literal '...'
	// line 2: unterminated string literal '...'
}
