package compat

import (
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/model"
)

// beforeCreate runs before gorm:create for stamped models: the downgrade
// converter in L(m), hiding deprecated columns in L(c), and the stamp.
func (p *Plugin) beforeCreate(db *gorm.DB) {
	snap := p.snap.Load()
	pl := p.planFor(db, snap)
	if pl == nil || db.Error != nil {
		return
	}
	st := p.begin(db, pl, snap)
	stmt := db.Statement
	if hidden, cols := pl.hiddenIn(st.snap.mode); len(cols) > 0 {
		if err := firstErr(pl.checkNames(hidden, stmt.Selects, "Select"), pl.checkNames(hidden, stmt.Omits, "Omit"), pl.checkMap(hidden, stmt.Dest, "Create"), pl.checkUpsert(hidden, stmt)); err != nil {
			_ = db.AddError(err)
			return
		}
		stmt.Omits = append(append([]string(nil), stmt.Omits...), cols...)
	}
	if st.snap.mode == ModeDual && pl.changes && pl.spec.Downgrades {
		if err := pl.downgradeCreate(stmt, st); err != nil {
			_ = db.AddError(err)
			return
		}
	}
	stampColumn(stmt, st.snap.stamp)
	if err := pl.stampUpsert(stmt, st); err != nil {
		_ = db.AddError(err)
	}
}

// downgradeCreate runs the downgrade converter, in L(m), on the values a
// Create inserts, so that the release before reads the deprecated columns
// right:
//   - the models of a struct, a slice or an array are converted in place;
//   - a map through Model (or a slice of maps) that names a transitional
//     column is converted on a model holding the map's values, and the
//     deprecated columns the converter computes are put into the map. A
//     map that names none is only stamped;
//   - when Select or Omit restrict the columns inserted, the converter sees
//     the columns left out as the zero values they are read back as (their
//     defaults), and the deprecated columns are inserted whatever the
//     Select or Omit say, as the stamp is: they belong to the conversion.
func (pl *modelPlan) downgradeCreate(stmt *gorm.Statement, st *stmtState) error {
	var written func(col string) bool
	if len(st.selects) > 0 || len(st.omits) > 0 {
		cols, restricted := stmt.SelectAndOmitColumns(true, false)
		written = func(col string) bool {
			v, ok := cols[col]
			return ok && v || !ok && !restricted
		}
	}
	converted := false
	var err error
	switch d := stmt.Dest.(type) {
	case map[string]any:
		converted, err = pl.downgradeMap(stmt, d, written)
	case *map[string]any:
		if d != nil {
			converted, err = pl.downgradeMap(stmt, *d, written)
		}
	case []map[string]any:
		converted, err = pl.downgradeMaps(stmt, d, written)
	case *[]map[string]any:
		if d != nil {
			converted, err = pl.downgradeMaps(stmt, *d, written)
		}
	default:
		err = pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error {
			converted = true
			if written == nil {
				return downgrade(v)
			}
			return pl.downgradeWritten(stmt, v, written)
		})
		if err != nil {
			err = fmt.Errorf("compat: downgrade %s: %w", pl.spec.Model, err)
		}
	}
	if err != nil || !converted || written == nil {
		return err
	}
	pl.insertDeprecated(stmt, written)
	return nil
}

// downgradeWritten converts a model of a Create that inserts only some of
// its columns: the converter runs on a copy that holds the columns
// inserted (the others zero), and the deprecated values it computes are
// copied into the model.
func (pl *modelPlan) downgradeWritten(stmt *gorm.Statement, v reflect.Value, written func(string) bool) error {
	scratch := reflect.New(v.Type()).Elem()
	scratch.Set(v)
	for _, f := range pl.spec.Schema().Fields {
		if f.DBName == "" || written(f.DBName) {
			continue
		}
		if fv := f.ReflectValueOf(stmt.Context, scratch); fv.CanSet() {
			fv.Set(reflect.Zero(fv.Type()))
		}
	}
	if err := downgrade(scratch); err != nil {
		return err
	}
	for i, col := range pl.transCols {
		if pl.trans[col].Deprecated != pl.release {
			continue
		}
		f := pl.transFields[i]
		f.ReflectValueOf(stmt.Context, v).Set(f.ReflectValueOf(stmt.Context, scratch))
	}
	return nil
}

// insertDeprecated makes a Create whose Select or Omit leave out a column
// the release deprecates insert it all the same.
func (pl *modelPlan) insertDeprecated(stmt *gorm.Statement, written func(string) bool) {
	s := pl.spec.Schema()
	for _, col := range pl.transCols {
		if pl.trans[col].Deprecated != pl.release || written(col) {
			continue
		}
		omits := make([]string, 0, len(stmt.Omits))
		for _, o := range stmt.Omits {
			if f := s.LookUpField(o); (f == nil || f.DBName != col) && unqualified(unquoteIdent(o)) != col {
				omits = append(omits, o)
			}
		}
		stmt.Omits = omits
		if len(stmt.Selects) > 0 {
			stmt.Selects = append(append([]string(nil), stmt.Selects...), col)
		}
	}
}

// downgradeMaps converts each map of a Create of several (downgradeMap).
func (pl *modelPlan) downgradeMaps(stmt *gorm.Statement, ms []map[string]any, written func(string) bool) (bool, error) {
	converted := false
	for _, m := range ms {
		ok, err := pl.downgradeMap(stmt, m, written)
		if err != nil {
			return false, err
		}
		converted = converted || ok
	}
	return converted, nil
}

// downgradeMap converts the values of a Create from a map, in L(m), when
// the map names a transitional column: the downgrade converter runs on a
// new model holding the map's values (those the Create inserts), and the
// deprecated columns it computes are put into the map, by their column
// names, in place of any key naming them. It reports whether it
// converted. A transitional column set by an SQL expression, or named in
// another spelling than the model's, cannot be followed
// (ErrUnconvertibleUpdate).
func (pl *modelPlan) downgradeMap(stmt *gorm.Statement, m map[string]any, written func(string) bool) (bool, error) {
	if len(m) == 0 {
		return false, nil
	}
	if err := pl.qualifiedKey(m); err != nil {
		return false, err
	}
	s := pl.spec.Schema()
	names := false
	for k, v := range m {
		f := s.LookUpField(k)
		if f == nil {
			continue
		}
		if _, t := pl.trans[f.DBName]; !t {
			continue
		}
		if _, isExpr := v.(clause.Expression); isExpr {
			return false, fmt.Errorf("%w: %s.%s is set by an SQL expression in a Create, which the converters cannot follow: give its value",
				ErrUnconvertibleUpdate, pl.spec.Model, f.Name)
		}
		names = true
	}
	if !names {
		return false, nil
	}
	scratch := reflect.New(s.ModelType).Elem()
	for k, v := range m {
		f := s.LookUpField(k)
		if f == nil || f.DBName == "" || written != nil && !written(f.DBName) {
			continue
		}
		if _, isExpr := v.(clause.Expression); isExpr {
			continue // not a transitional column (see above): the converter does not see it
		}
		if err := f.Set(stmt.Context, scratch, v); err != nil {
			if _, t := pl.trans[f.DBName]; t {
				return false, fmt.Errorf("%w: %s.%s: the value %v of the Create's map cannot be given to the converter: %v",
					ErrUnconvertibleUpdate, pl.spec.Model, f.Name, v, err)
			}
		}
	}
	if err := downgrade(scratch); err != nil {
		return false, fmt.Errorf("compat: downgrade %s: %w", pl.spec.Model, err)
	}
	for i, col := range pl.transCols {
		if pl.trans[col].Deprecated != pl.release {
			continue
		}
		f := pl.transFields[i]
		for k := range m {
			if k != col && (k == f.Name || k == f.DBName) {
				delete(m, k)
			}
		}
		m[col], _ = f.ValueOf(stmt.Context, scratch)
	}
	return true, nil
}

// checkUpsert fails when the ON CONFLICT clause of a Create names a hidden
// field: as a conflict column, as a column its update assigns, or as the
// inserted value it assigns from.
func (pl *modelPlan) checkUpsert(hidden map[string]model.Field, stmt *gorm.Statement) error {
	oc, ok := onConflict(stmt)
	if !ok {
		return nil
	}
	for _, c := range oc.Columns {
		if f, ok := pl.hiddenName(hidden, c.Name); ok {
			return pl.deprecatedError(f, "OnConflict")
		}
	}
	for _, a := range oc.DoUpdates {
		if f, ok := pl.hiddenName(hidden, a.Column.Name); ok {
			return pl.deprecatedError(f, "OnConflict")
		}
		if c, isCol := a.Value.(clause.Column); isCol {
			if f, ok := pl.hiddenName(hidden, c.Name); ok {
				return pl.deprecatedError(f, "OnConflict")
			}
		}
	}
	return nil
}

func onConflict(stmt *gorm.Statement) (clause.OnConflict, bool) {
	c, ok := stmt.Clauses["ON CONFLICT"]
	if !ok {
		return clause.OnConflict{}, false
	}
	oc, ok := c.Expression.(clause.OnConflict)
	return oc, ok
}

// stampUpsert handles the update part of an ON CONFLICT clause that names
// its columns (DoUpdates); UpdateAll writes every column the Create
// inserts, the converted ones and the stamp included, and is left alone.
//
// For a model that changes nothing in the release the update stamps the
// row. Otherwise the update changes a row the Create did not convert:
//   - one that assigns no transitional column leaves the row's shape, and
//     so its stamp, as they are;
//   - one that assigns a transitional column must assign every column the
//     release adds from the inserted values (excluded.col, VALUES(col) on
//     MySQL). In L(m) the model must implement model.DowngradeFromAdded:
//     the deprecated columns are then assigned from the inserted values
//     as well (the downgrade converter computed them from the added
//     ones), and the row is stamped. Any other such update is refused
//     with ErrUnconvertibleUpdate.
func (pl *modelPlan) stampUpsert(stmt *gorm.Statement, st *stmtState) error {
	oc, ok := onConflict(stmt)
	if ok && oc.UpdateAll && pl.changes {
		return pl.checkPartialUpdateAll(stmt, st)
	}
	if !ok || oc.DoNothing || oc.UpdateAll || len(oc.DoUpdates) == 0 {
		return nil
	}
	s := pl.spec.Schema()
	stampSet := clause.Assignment{Column: clause.Column{Name: model.StampColumn}, Value: st.snap.stamp}
	if !pl.changes {
		set := make(clause.Set, 0, len(oc.DoUpdates)+1)
		for _, a := range oc.DoUpdates {
			if upsertColumn(s, a.Column.Name) != model.StampColumn {
				set = append(set, a)
			}
		}
		oc.DoUpdates = append(set, stampSet)
		stmt.AddClause(oc)
		return nil
	}
	var touched []string
	seen := make(map[string]bool, pl.addedCount)
	for _, a := range oc.DoUpdates {
		col := upsertColumn(s, a.Column.Name)
		t, ok := pl.trans[col]
		if !ok {
			continue
		}
		touched = append(touched, t.Name)
		if v, isCol := a.Value.(clause.Column); isCol && t.Added == pl.release && v.Table == "excluded" && upsertColumn(s, v.Name) == col {
			seen[col] = true
		}
	}
	if len(touched) == 0 {
		return nil // the row keeps its shape and its stamp
	}
	if len(seen) != pl.addedCount {
		return fmt.Errorf("%w: the ON CONFLICT update of %s assigns %s, but not every field %s adds (%s) from the inserted values: the existing row would be stamped %s with the other transitional columns unconverted; use clause.OnConflict{UpdateAll: true}, or assign all of them with clause.AssignmentColumns",
			ErrUnconvertibleUpdate, pl.spec.Model, strings.Join(touched, ", "), pl.release, strings.Join(pl.addedNames(), ", "), pl.release)
	}
	dual := st.snap.mode == ModeDual && pl.spec.Downgrades
	if dual && !pl.spec.DowngradesFromAdded {
		return fmt.Errorf("%w: the ON CONFLICT update of %s assigns its %s fields, but %s does not implement model.DowngradeFromAdded, so its deprecated columns cannot be derived from the inserted values alone; use clause.OnConflict{UpdateAll: true}, or implement model.DowngradeFromAdded if TandemDowngrade reads only the added fields",
			ErrUnconvertibleUpdate, pl.spec.Model, pl.release, pl.spec.Model)
	}
	hidden, _ := pl.hiddenIn(st.snap.mode)
	set := make(clause.Set, 0, len(oc.DoUpdates)+len(pl.transCols)+1)
	for _, a := range oc.DoUpdates {
		col := upsertColumn(s, a.Column.Name)
		if col == model.StampColumn {
			continue
		}
		if t, ok := pl.trans[col]; ok && dual && t.Deprecated == pl.release {
			continue // assigned from the inserted, converted, value below
		}
		set = append(set, a)
	}
	if dual {
		for _, col := range pl.transCols {
			if _, h := hidden[col]; h || pl.trans[col].Deprecated != pl.release {
				continue
			}
			set = append(set, clause.Assignment{Column: clause.Column{Name: col}, Value: clause.Column{Table: "excluded", Name: col}})
		}
	}
	oc.DoUpdates = append(set, stampSet)
	stmt.AddClause(oc)
	return nil
}

// checkPartialUpdateAll holds UpdateAll to the rule of DoUpdates when the
// Create inserts only some of the model's columns (a map, or a Select or
// Omit): GORM's UpdateAll then assigns only those, the stamp among them,
// so the existing row would be stamped with transitional columns the
// converters never saw. It passes when every added column is inserted
// (and, in L(m), the model implements model.DowngradeFromAdded, so that
// the deprecated columns the Create computed hold for the row); else it
// fails with ErrUnconvertibleUpdate.
func (pl *modelPlan) checkPartialUpdateAll(stmt *gorm.Statement, st *stmtState) error {
	cols := pl.insertedColumns(stmt)
	if cols == nil {
		return nil
	}
	var missing []string
	for _, col := range pl.transCols {
		if t := pl.trans[col]; t.Added == pl.release && !cols[col] {
			missing = append(missing, t.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the ON CONFLICT UpdateAll of %s assigns only the columns the Create inserts, which leave out %s: the existing row would be stamped %s with its transitional columns unconverted; create whole models, or name the columns to update with clause.AssignmentColumns (an update of other columns leaves the row's stamp alone)",
			ErrUnconvertibleUpdate, pl.spec.Model, strings.Join(missing, ", "), pl.release)
	}
	if st.snap.mode == ModeDual && pl.spec.Downgrades && !pl.spec.DowngradesFromAdded {
		return fmt.Errorf("%w: the ON CONFLICT UpdateAll of %s assigns only the columns the Create inserts, and %s does not implement model.DowngradeFromAdded, so the deprecated columns computed from them may not hold for the existing row; create whole models, or implement model.DowngradeFromAdded if TandemDowngrade reads only the added fields",
			ErrUnconvertibleUpdate, pl.spec.Model, pl.spec.Model)
	}
	return nil
}

// insertedColumns returns the columns a Create inserts when they are not
// all of the model's: the keys every map holds, or the columns a Select or
// Omit leaves in. It returns nil when the Create inserts whole models.
func (pl *modelPlan) insertedColumns(stmt *gorm.Statement) map[string]bool {
	s := pl.spec.Schema()
	var maps []map[string]any
	switch d := stmt.Dest.(type) {
	case map[string]any:
		maps = []map[string]any{d}
	case *map[string]any:
		maps = []map[string]any{*d}
	case []map[string]any:
		maps = d
	case *[]map[string]any:
		maps = *d
	}
	if maps != nil {
		count := map[string]int{}
		for _, m := range maps {
			for k := range m {
				count[upsertColumn(s, k)]++
			}
		}
		cols := make(map[string]bool, len(count))
		for c, n := range count {
			cols[c] = n == len(maps)
		}
		return cols
	}
	if len(stmt.Selects) == 0 && len(stmt.Omits) == 0 {
		return nil
	}
	sel, restricted := stmt.SelectAndOmitColumns(true, false)
	cols := make(map[string]bool, len(s.DBNames))
	for _, c := range s.DBNames {
		v, named := sel[c]
		cols[c] = (named && v) || (!named && !restricted)
	}
	return cols
}

// upsertColumn returns the column an ON CONFLICT assignment names (a
// field name or a column, possibly qualified).
func upsertColumn(s *schema.Schema, name string) string {
	if f := s.LookUpField(name); f != nil && f.DBName != "" {
		return f.DBName
	}
	return unqualified(unquoteIdent(name))
}

// addedNames returns the names of the fields the plan's release adds.
func (pl *modelPlan) addedNames() []string {
	names := make([]string, 0, pl.addedCount)
	for _, col := range pl.transCols {
		if t := pl.trans[col]; t.Added == pl.release {
			names = append(names, t.Name)
		}
	}
	return names
}
