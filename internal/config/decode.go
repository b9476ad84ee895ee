package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// The config is decoded by walking yaml.v3's node tree against the Config
// struct rather than with yaml.Decoder: the decoder stops at the first key
// it does not know and names Go types ("field timezon not found in type
// config.Config"), so one typo hid every other problem of the file. The
// walk goes on past every problem, names each by its key path and line in
// YAML's terms, suggests the closest known key, and never prints a value it
// could not use: a value under the wrong key or of the wrong type may be a
// secret.

var (
	durationType = reflect.TypeOf(Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

// decoder collects what the walk finds.
type decoder struct {
	probs Problems
	// explained are keys whose later validation problems a decode problem
	// already explains (a value of the wrong type, a typo of the key).
	explained []string
	// zeros are number and duration keys set to 0, which the defaults
	// would otherwise silently replace.
	zeros []zeroKey

	// Aliases are followed, so a document can name a value that contains
	// itself, or expand a few lines into millions of values: inAlias
	// stops the first, visits the second.
	inAlias  map[*yaml.Node]bool
	visits   int
	tooLarge bool
}

// maxVisits bounds the values a document may expand to through aliases; a
// real config has a few hundred.
const maxVisits = 200_000

// zeroMeansOff are the keys whose 0 is a setting of its own (off), not a
// mistake; their field is a pointer, so unset still takes the default.
var zeroMeansOff = map[string]bool{"delivery.dedupe_window": true, "delivery.digest.after": true}

type zeroKey struct {
	key  string
	line int
	v    reflect.Value
}

func (d *decoder) add(key string, line int, format string, args ...any) {
	d.probs = append(d.probs, Problem{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses b into its node tree and returns the top mapping,
// or a problem saying why there is none.
func parseDocument(b []byte) (*yaml.Node, *yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		p := Problem{Msg: strings.TrimPrefix(err.Error(), "yaml: ") + " (the file is not valid YAML)"}
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = m[2] + " (the file is not valid YAML)"
		}
		return nil, nil, Problems{p}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, nil, errors.New("config is empty")
	}
	top := resolve(root.Content[0])
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		return nil, nil, errors.New("config is empty")
	}
	if top.Kind != yaml.MappingNode {
		return nil, nil, Problems{{Line: top.Line, Msg: fmt.Sprintf("the config must be a mapping of keys (such as route: and receivers:), got %s", describeNode(top))}}
	}
	return &root, top, nil
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// value decodes n into v, the field at key.
func (d *decoder) value(n *yaml.Node, v reflect.Value, key string, line int) {
	if d.visits++; d.visits > maxVisits {
		if !d.tooLarge {
			d.tooLarge = true
			d.add(key, line, "the document's aliases expand to more than %d values", maxVisits)
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		target := n.Alias
		if d.inAlias[target] {
			d.add(key, line, "the alias *%s names a value that contains it", n.Value)
			d.explain(key)
			return
		}
		if d.inAlias == nil {
			d.inAlias = map[*yaml.Node]bool{}
		}
		d.inAlias[target] = true
		defer delete(d.inAlias, target)
		d.value(target, v, key, line)
		return
	}
	t := v.Type()
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	if null {
		// An empty value is an unset key: the default applies.
		v.Set(reflect.Zero(t))
		return
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			d.wrongType(key, line, t, n)
			return
		}
		if n.Value == "" {
			return
		}
		md, err := model.ParseDuration(n.Value)
		if err != nil {
			d.add(key, line, "%q is not a duration (e.g. 30s, 5m, 2h, 1d)", n.Value)
			d.explain(key)
			return
		}
		v.SetInt(int64(md))
		if md == 0 && !zeroMeansOff[key] {
			d.zeros = append(d.zeros, zeroKey{key, line, v})
		}
	case t.Kind() == reflect.Pointer:
		if n.Kind != yaml.MappingNode && structOf(t) != nil {
			d.wrongType(key, line, t, n)
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), key, line)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.wrongType(key, line, t, n)
			return
		}
		d.mapping(n, v, key)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.wrongType(key, line, t, n)
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", key, i), item.Line)
		}
		v.Set(s)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		// A mapping of names chosen by the user (mentions.users).
		if n.Kind != yaml.MappingNode {
			d.wrongType(key, line, t, n)
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.add(key, k.Line, "expected a name as key, got %s", describeNode(k))
				continue
			}
			x := reflect.New(t.Elem()).Elem()
			d.value(val, x, key+"."+k.Value, val.Line)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), x)
		}
		v.Set(m)
	default:
		d.scalar(n, v, key, line)
	}
}

// scalar decodes a string, number or boolean.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, key string, line int) {
	t := v.Type()
	if n.Kind != yaml.ScalarNode {
		d.wrongType(key, line, t, n)
		return
	}
	// yaml.v3 would truncate 2.5 into an integer.
	switch tag := n.ShortTag(); t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if tag != "!!int" {
			d.wrongType(key, line, t, n)
			return
		}
	case reflect.Float32, reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			d.wrongType(key, line, t, n)
			return
		}
	}
	p := reflect.New(t)
	// yaml.v3 converts the scalar; its error, which quotes the value, is
	// not shown.
	if err := n.Decode(p.Interface()); err != nil {
		d.wrongType(key, line, t, n)
		return
	}
	x := p.Elem()
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := x.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			d.add(key, line, "must be a finite number")
			d.explain(key)
			return
		}
	}
	v.Set(x)
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		if x.IsZero() && !zeroMeansOff[key] {
			d.zeros = append(d.zeros, zeroKey{key, line, v})
		}
	}
}

func (d *decoder) wrongType(key string, line int, want reflect.Type, got *yaml.Node) {
	d.add(key, line, "expected %s, got %s", describeType(want), describeNode(got))
	d.explain(key)
}

// explain marks key, and everything under it, as explained.
func (d *decoder) explain(key string) { d.explained = append(d.explained, key) }

// field is one key of a struct.
type field struct {
	name  string
	index int
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{name, i})
	}
	return fs
}

// pair is one key and its value of a mapping.
type pair struct{ k, v *yaml.Node }

// pairs lists a mapping's keys and values with YAML merge keys (<<: *x)
// applied: a key of the mapping itself wins over a merged one, an earlier
// merged mapping over a later one.
func (d *decoder) pairs(n *yaml.Node, key string) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			v = resolve(v)
			var from []*yaml.Node
			switch v.Kind {
			case yaml.MappingNode:
				from = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, item := range v.Content {
					from = append(from, resolve(item))
				}
			}
			for _, m := range from {
				if m.Kind != yaml.MappingNode {
					d.add(joinKey(key, "<<"), k.Line, "a merge key must name a mapping or a list of mappings, got %s", describeNode(m))
					continue
				}
				if d.inAlias[m] {
					d.add(joinKey(key, "<<"), k.Line, "the merge names a mapping that contains it")
					continue
				}
				if d.inAlias == nil {
					d.inAlias = map[*yaml.Node]bool{}
				}
				d.inAlias[m] = true
				merged = append(merged, d.pairs(m, key)...)
				delete(d.inAlias, m)
			}
			if len(from) == 0 {
				d.add(joinKey(key, "<<"), k.Line, "a merge key must name a mapping or a list of mappings, got %s", describeNode(v))
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	seen := map[string]bool{}
	for _, p := range own {
		seen[p.k.Value] = true
	}
	out := own
	for _, p := range merged {
		if !seen[p.k.Value] {
			seen[p.k.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// mapping decodes the mapping n into the struct v at key.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, key string) {
	fields := fieldsOf(v.Type())
	byName := map[string]int{}
	for _, f := range fields {
		byName[f.name] = f.index
	}
	ps := d.pairs(n, key)
	present := map[string]bool{}
	for _, p := range ps {
		present[p.k.Value] = true
	}
	first := map[string]int{}
	for _, p := range ps {
		k := resolve(p.k)
		if k.Kind != yaml.ScalarNode {
			d.add(key, k.Line, "a key must be a plain word, got %s", describeNode(k))
			continue
		}
		path := joinKey(key, k.Value)
		if l, dup := first[k.Value]; dup {
			d.add(path, k.Line, "is set twice (first on line %d): keep one", l)
			continue
		}
		first[k.Value] = k.Line
		i, ok := byName[k.Value]
		if !ok {
			d.unknown(key, path, k.Line, k.Value, v.Type(), present)
			continue
		}
		d.value(p.v, v.Field(i), path, k.Line)
	}
}

// unknown reports a key the struct t does not have, with the closest one
// it has, or where the key belongs, or the keys it has.
func (d *decoder) unknown(parent, path string, line int, name string, t reflect.Type, present map[string]bool) {
	var known []string
	for _, f := range fieldsOf(t) {
		known = append(known, f.name)
	}
	if best := closest(name, known); best != "" {
		d.add(path, line, "unknown key; did you mean `%s`?", best)
		if !present[best] {
			// "open_ids is empty" is the typo's doing.
			d.explain(joinKey(parent, best))
		}
		return
	}
	if where := placesOf(name); len(where) > 0 {
		d.add(path, line, "unknown key here; `%s` belongs %s", name, strings.Join(where, " or "))
		return
	}
	d.add(path, line, "unknown key; the keys here are %s", strings.Join(known, ", "))
}

// closest returns the known key a typo most likely meant, or "".
func closest(name string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	for _, k := range known {
		if norm(k) == norm(name) {
			return k // appId, app-id, AppID
		}
	}
	limit := min(3, max(1, len(name)/3))
	best, bestD := "", limit+1
	for _, k := range known {
		if dist := levenshtein.ComputeDistance(name, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best != "" {
		return best
	}
	// listen_addr for listen, app_secrets_path for app_secret.
	for _, k := range known {
		if len(k) >= 4 && (strings.HasPrefix(name, k) || strings.HasPrefix(k, name) && len(name) >= 4) {
			return k
		}
	}
	return ""
}

// placesOf lists where in the config a key of this name exists ("at the
// top level", "under `mind`").
func placesOf(name string) []string {
	var out []string
	var walk func(t reflect.Type, at string, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, at string, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for _, f := range fieldsOf(t) {
			ft := t.Field(f.index).Type
			if f.name == name {
				if at == "" {
					out = append(out, "at the top level")
				} else {
					out = append(out, "under `"+at+"`")
				}
			}
			if st := structOf(ft); st != nil && ft != durationType {
				sub := joinKey(at, f.name)
				if ft.Kind() == reflect.Slice {
					sub += "[]"
				}
				walk(st, sub, seen)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "", map[reflect.Type]bool{})
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// structOf returns the struct type behind pointers and slices, or nil.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return t
	}
	return nil
}

// describeType names what a key takes, in YAML's terms.
func describeType(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration (e.g. 30s, 5m, 2h, 1d)"
	case secretType:
		return "a string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.Struct:
		return "a mapping of keys"
	case reflect.Map:
		return "a mapping of names to " + plural(t.Elem())
	}
	return "another kind of value"
}

func plural(t reflect.Type) string {
	s := describeType(t)
	switch {
	case strings.HasPrefix(s, "a list"):
		return "lists"
	case s == "a mapping of keys":
		return "mappings"
	case s == "true or false":
		return "booleans"
	case strings.HasPrefix(s, "a duration"):
		return "durations"
	}
	return strings.TrimPrefix(strings.TrimPrefix(s, "an "), "a ") + "s"
}

// describeNode names what a value is, in YAML's terms, without its
// content.
func describeNode(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "a whole number"
		case "!!float":
			return "a number"
		case "!!bool":
			return "true or false"
		case "!!null":
			return "an empty value"
		case "!!timestamp":
			return "a date"
		case "!!binary":
			return "binary data"
		}
		return "a value tagged " + n.ShortTag()
	}
	return "an unexpected value"
}

// zeroProblems refuses number and duration keys set to 0: every one of
// them must be positive, and a 0 would otherwise quietly become the
// default. Called after the defaults are applied, so that the message can
// say what the default is.
func (d *decoder) zeroProblems() Problems {
	var ps Problems
	for _, z := range d.zeros {
		if z.v.IsZero() {
			// No default replaced the 0: it is the value the key is set
			// to, which validation judges (a rotation's every: 0 must be
			// positive; a repeat: 0 means no repeat).
			continue
		}
		def := fmt.Sprint(z.v.Interface())
		if z.v.Type() == durationType {
			def = Duration(z.v.Int()).String()
		}
		ps = append(ps, Problem{Key: z.key, Line: z.line,
			Msg: fmt.Sprintf("must be positive, not 0 (leave the key out for the default, %s)", def)})
		d.explain(z.key)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// unexplained drops the problems a decode problem already explains.
func (d *decoder) unexplained(ps Problems) Problems {
	var out Problems
	for _, p := range ps {
		if !d.isExplained(p.Key) && (p.Cause == "" || !d.isExplained(p.Cause)) {
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) isExplained(key string) bool {
	for _, e := range d.explained {
		if key == e || strings.HasPrefix(key, e+".") || strings.HasPrefix(key, e+"[") {
			return true
		}
	}
	return false
}
