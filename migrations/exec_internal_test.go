package migrations

import "testing"

// TestIsDML: the statements whose progress commits with them on MySQL.
func TestIsDML(t *testing.T) {
	for sql, want := range map[string]bool{
		"INSERT INTO codes VALUES (1)":                           true,
		"  update codes SET label = 'x'":                         true,
		"-- reference rows\nDELETE FROM codes WHERE id = 3":      true,
		"/* keep */ REPLACE INTO codes VALUES (1, 'one')":        true,
		"# MySQL comment\n(INSERT INTO codes SELECT * FROM old)": true,
		"ALTER TABLE codes ADD COLUMN note TEXT":                 false,
		"CREATE TABLE updates (id INT)":                          false,
		"SET SESSION sql_log_bin = 0":                            false,
		"START TRANSACTION":                                      false,
		"/* unterminated":                                        false,
		"-- only a comment":                                      false,
		"INSERTED":                                               false,
	} {
		if got := isDML(sql); got != want {
			t.Errorf("isDML(%q) = %v, want %v", sql, got, want)
		}
	}
}
