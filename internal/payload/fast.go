package payload

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"

	"github.com/mindoffice/mind-relay/internal/alert"
)

// The fast path reads the bodies senders really post straight into the
// relay's model, in one pass, with one copy of the body: every string
// without escapes is a slice of that copy. It gives up (ok == false) on
// anything where encoding/json's behaviour is subtle — a key that differs
// from a field name only in case, a repeated field, a null alert or label,
// an escape in a key, invalid UTF-8, a number a field's type cannot hold, a malformed
// value — and the caller then decodes with encoding/json into
// Alertmanager's types as before, so results and error messages are
// exactly encoding/json's. FuzzFastMatchesStdlib holds the two paths to
// the same result for any bytes. A parsed group keeps that one copy of the
// body alive while any of its strings is: memory stays one body per group.

// fastMessage is an Alertmanager (or Grafana) webhook body as the fast path
// reads it.
type fastMessage struct {
	version, groupKey             string
	truncated                     uint64
	receiver, status, externalURL string
	alerts                        alert.Alerts
	hasAlerts                     bool
	groupLabels, commonLabels     template.KV
	commonAnnotations             template.KV
	// Grafana's extras.
	orgID                 int64
	title, state, message string
}

// maxSkipDepth bounds the nesting of an ignored value the fast path skips;
// deeper ones go to encoding/json, which knows its own depth limit.
const maxSkipDepth = 100

// Field names, for telling a key that only differs in case (which
// encoding/json would match) from a key it ignores.
var (
	amTopKeys = []string{"receiver", "status", "alerts", "notification_reason", "groupLabels", "commonLabels",
		"commonAnnotations", "routeLabels", "externalURL", "version", "groupKey", "truncatedAlerts"}
	grafanaTopKeys = append(append([]string(nil), amTopKeys...), "orgId", "title", "state", "message",
		"ruleName", "evalMatches")
	amAlertKeys      = []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
	grafanaAlertKeys = append(append([]string(nil), amAlertKeys...), "silenceURL", "dashboardURL", "panelURL",
		"imageURL", "values", "valueString", "orgId")
)

type fastDecoder struct {
	b       []byte
	s       string // string(b): strings without escapes are slices of it
	i       int
	grafana bool
}

// decodeFast reads body on the fast path; ok is false when encoding/json
// must decide.
func decodeFast(body []byte, grafana bool) (m fastMessage, ok bool) {
	d := fastDecoder{b: body, s: string(body), grafana: grafana}
	d.ws()
	if !d.message(&m) {
		return fastMessage{}, false
	}
	d.ws()
	if d.i != len(d.s) {
		return fastMessage{}, false
	}
	return m, true
}

func (d *fastDecoder) message(m *fastMessage) bool {
	keys := amTopKeys
	if d.grafana {
		keys = grafanaTopKeys
	}
	var seen uint32
	return d.object(func(key string, bit uint32) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if bit != 0 && key != "alerts" && key != "ruleName" && key != "evalMatches" && d.null() {
			return true // as encoding/json: the field keeps its zero value
		}
		return d.topMember(m, key)
	}, keys)
}

func (d *fastDecoder) topMember(m *fastMessage, key string) bool {
	var ok bool
	switch key {
	case "version":
		m.version, ok = d.string()
	case "groupKey":
		m.groupKey, ok = d.string()
	case "truncatedAlerts":
		m.truncated, ok = d.uint()
	case "receiver":
		m.receiver, ok = d.string()
	case "status":
		m.status, ok = d.string()
	case "externalURL":
		m.externalURL, ok = d.string()
	case "notification_reason":
		_, ok = d.string()
	case "alerts":
		m.alerts, ok = d.alerts()
		m.hasAlerts = true
	case "groupLabels":
		m.groupLabels, ok = d.kv()
	case "commonLabels":
		m.commonLabels, ok = d.kv()
	case "commonAnnotations":
		m.commonAnnotations, ok = d.kv()
	case "routeLabels":
		_, ok = d.kv()
	case "orgId", "title", "state", "message", "ruleName", "evalMatches":
		if !d.grafana {
			return d.skip()
		}
		switch key {
		case "orgId":
			m.orgID, ok = d.int()
		case "title":
			m.title, ok = d.string()
		case "state":
			m.state, ok = d.string()
		case "message":
			m.message, ok = d.string()
		default: // the legacy format: ParseGrafana's probe names it
			return false
		}
	default:
		return d.skip()
	}
	return ok
}

func (d *fastDecoder) alerts() (alert.Alerts, bool) {
	if !d.consume('[') {
		return nil, false
	}
	out := make(alert.Alerts, 0, 4)
	d.ws()
	if d.consume(']') {
		return out, true
	}
	for {
		d.ws()
		var a alert.Alert
		if !d.alert(&a) {
			return nil, false
		}
		if d.grafana && a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		out = append(out, a)
		d.ws()
		if d.consume(',') {
			continue
		}
		return out, d.consume(']')
	}
}

func (d *fastDecoder) alert(a *alert.Alert) bool {
	keys := amAlertKeys
	if d.grafana {
		keys = grafanaAlertKeys
	}
	var seen uint32
	return d.object(func(key string, bit uint32) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if bit != 0 && d.null() {
			return true
		}
		var ok bool
		switch key {
		case "status":
			a.Status, ok = d.string()
		case "labels":
			a.Labels, ok = d.kv()
		case "annotations":
			a.Annotations, ok = d.kv()
		case "startsAt":
			ok = d.time(&a.StartsAt)
		case "endsAt":
			ok = d.time(&a.EndsAt)
		case "generatorURL":
			a.GeneratorURL, ok = d.string()
		case "fingerprint":
			a.Fingerprint, ok = d.string()
		default:
			if !d.grafana {
				return d.skip()
			}
			switch key {
			case "silenceURL":
				a.SilenceURL, ok = d.string()
			case "dashboardURL":
				a.DashboardURL, ok = d.string()
			case "panelURL":
				a.PanelURL, ok = d.string()
			case "imageURL":
				a.ImageURL, ok = d.string()
			case "valueString":
				a.ValueString, ok = d.string()
			case "orgId":
				a.OrgID, ok = d.int()
			case "values":
				a.Values, ok = d.floats()
			default:
				return d.skip()
			}
		}
		return ok
	}, keys)
}

// object reads an object whose keys are struct fields named by names:
// member is called with each key (and a bit of its own when it is one of
// names, 0 otherwise) and reads the value. A key that is not exactly a
// name but that encoding/json could match to one gives up.
func (d *fastDecoder) object(member func(key string, bit uint32) bool, names []string) bool {
	if !d.consume('{') {
		return false
	}
	d.ws()
	if d.consume('}') {
		return true
	}
	for {
		d.ws()
		start := d.i
		key, ok := d.string()
		if !ok || d.i-start != len(key)+2 {
			return false // an escaped key: let encoding/json match it
		}
		bit := uint32(0)
		for j, n := range names {
			if key == n {
				bit = 1 << j
				break
			}
		}
		if bit == 0 && foldsToOneOf(key, names) {
			return false
		}
		d.ws()
		if !d.consume(':') {
			return false
		}
		d.ws()
		if !member(key, bit) {
			return false
		}
		d.ws()
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// foldsToOneOf reports whether encoding/json might match key to one of
// names although it is none of them: they are equal but for case, or key
// has non-ASCII letters (some fold to ASCII ones, like 'ſ' to 's').
func foldsToOneOf(key string, names []string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// kv reads an object of strings into a new map, as encoding/json does
// (later duplicates win; {} is an empty map).
func (d *fastDecoder) kv() (template.KV, bool) {
	m := make(template.KV, 8)
	if !d.members(func(k string) bool {
		v, ok := d.string()
		m[k] = v
		return ok
	}) {
		return nil, false
	}
	return m, true
}

// floats reads Grafana's values: an object of numbers.
func (d *fastDecoder) floats() (map[string]float64, bool) {
	m := make(map[string]float64, 4)
	if !d.members(func(k string) bool {
		num, ok := d.number()
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(num, 64)
		m[k] = f
		return err == nil
	}) {
		return nil, false
	}
	return m, true
}

// members reads an object with any keys, calling value after each key to
// read the value that follows it.
func (d *fastDecoder) members(value func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	d.ws()
	if d.consume('}') {
		return true
	}
	for {
		d.ws()
		k, ok := d.string()
		if !ok {
			return false
		}
		d.ws()
		if !d.consume(':') {
			return false
		}
		d.ws()
		if !value(k) {
			return false
		}
		d.ws()
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// string reads a JSON string. Without escapes it is a slice of the body
// (checked to be valid UTF-8, control characters refused); with escapes it
// is unquoted as encoding/json does.
func (d *fastDecoder) string() (string, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	end := strings.IndexByte(d.s[start:], '"')
	if end < 0 {
		return "", false
	}
	end += start
	v := d.s[start:end]
	if strings.IndexByte(v, '\\') >= 0 {
		return d.escaped(start - 1)
	}
	ascii := true
	for k := 0; k < len(v); k++ {
		if c := v[k]; c < 0x20 {
			return "", false
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(v) {
		return "", false // encoding/json would replace the bad bytes
	}
	d.i = end + 1
	return v, true
}

// escaped reads the string token at start, which has escapes. The one-byte
// escapes are replaced here; a \u escape has encoding/json unquote the
// token (surrogates and invalid code points are subtle).
func (d *fastDecoder) escaped(start int) (string, bool) {
	buf := make([]byte, 0, 64)
	i := start + 1
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			if !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d.s) {
			return "", false
		}
		switch d.s[i+1] {
		case '"', '\\', '/':
			buf = append(buf, d.s[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			return d.unquoteToken(start)
		default:
			return "", false
		}
		i += 2
	}
	return "", false
}

// unquoteToken has encoding/json read the string token at start.
func (d *fastDecoder) unquoteToken(start int) (string, bool) {
	i := start + 1
	for i < len(d.s) && d.s[i] != '"' {
		if d.s[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(d.s) {
		return "", false
	}
	d.i = i + 1
	var v string
	if json.Unmarshal(d.b[start:d.i], &v) != nil {
		return "", false
	}
	return v, true
}

// time reads a time as encoding/json does: the raw string token goes to
// time.Time's UnmarshalJSON.
func (d *fastDecoder) time(t *time.Time) bool {
	start := d.i
	if _, ok := d.string(); !ok {
		return false
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

// number reads a token of JSON's number grammar.
func (d *fastDecoder) number() (string, bool) {
	start := d.i
	d.consume('-')
	switch {
	case d.consume('0'):
	case d.i < len(d.s) && d.s[d.i] >= '1' && d.s[d.i] <= '9':
		d.digits()
	default:
		return "", false
	}
	if d.consume('.') && !d.digits() {
		return "", false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if !d.digits() {
			return "", false
		}
	}
	return d.s[start:d.i], true
}

func (d *fastDecoder) digits() bool {
	start := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

func (d *fastDecoder) uint() (uint64, bool) {
	num, ok := d.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

func (d *fastDecoder) int() (int64, bool) {
	num, ok := d.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil
}

// skip passes over a value no field takes, which must still be valid JSON.
func (d *fastDecoder) skip() bool {
	start := d.i
	if d.i >= len(d.s) {
		return false
	}
	switch d.s[d.i] {
	case '"':
		if _, ok := d.string(); !ok {
			return false
		}
		return true
	case '{', '[':
		depth := 0
		for d.i < len(d.s) {
			switch d.s[d.i] {
			case '"':
				if _, ok := d.string(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
				if depth > maxSkipDepth {
					return false
				}
			case '}', ']':
				depth--
				if depth == 0 {
					d.i++
					return json.Valid(d.b[start:d.i])
				}
			}
			d.i++
		}
		return false
	default:
		for d.i < len(d.s) {
			switch d.s[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return json.Valid(d.b[start:d.i])
			}
			d.i++
		}
		return false
	}
}

func (d *fastDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// null reads a null. A null field keeps its zero value (a nil map, an
// empty string, the zero time), as with encoding/json; since a repeated
// field gives up, that is all encoding/json's "null is a no-op" means here.
func (d *fastDecoder) null() bool {
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

func (d *fastDecoder) consume(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}
