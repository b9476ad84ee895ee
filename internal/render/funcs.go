package render

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	amtemplate "github.com/prometheus/alertmanager/template"

	"github.com/mindoffice/mind-relay/internal/card"
)

// TimeLayout is how cards show times; fmtTime adds the zone after it.
const TimeLayout = "2006-01-02 15:04:05"

// funcMap is Alertmanager's template.DefaultFuncs plus what cards need. now
// and since read the renderer's clock instead of the wall clock, so that a
// test's fixed Now holds in templates too.
func funcMap(loc *time.Location, now func() time.Time) template.FuncMap {
	fm := make(template.FuncMap, len(amtemplate.DefaultFuncs)+16)
	for k, v := range amtemplate.DefaultFuncs {
		fm[k] = v
	}
	fm["now"] = now
	fm["since"] = func(t time.Time) time.Duration { return now().Sub(t) }
	fm["localtime"] = func(t time.Time) time.Time { return t.In(loc) }
	fm["fmtTime"] = func(t time.Time) string { return fmtTime(t, loc) }
	fm["duration"] = humanDuration
	fm["mdEscape"] = mdEscape
	fm["oneLine"] = oneLine
	fm["truncate"] = truncate
	fm["value"] = formatValues
	fm["mdLabels"] = mdLabels
	fm["mdLink"] = mdLink
	fm["mdImage"] = mdImage
	fm["severityColor"] = severityColor
	fm["relevant"] = relevant
	return fm
}

// fmtTime formats t in loc with its zone as an offset from UTC, which
// reads the same everywhere ("CST" is China's and America's):
// "2026-11-22 10:07:31 UTC+8". The zero time, which Grafana sends for
// unknown times, is "未知".
func fmtTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "未知"
	}
	t = t.In(loc)
	var buf [len(TimeLayout) + len(" UTC+10:30")]byte
	b := t.AppendFormat(buf[:0], TimeLayout)
	b = append(b, " UTC"...)
	_, off := t.Zone()
	if off == 0 {
		return string(b)
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = strconv.AppendInt(b, int64(off/3600), 10)
	if m := off % 3600 / 60; m != 0 {
		b = append(b, ':', byte('0'+m/10), byte('0'+m%10))
	}
	return string(b)
}

// humanDuration says how long d is in Chinese, to two units at most:
// "45秒", "5分30秒", "1小时5分", "3天2小时". It takes a time.Duration or a
// number of seconds (as Prometheus' humanizeDuration does); negative
// durations (clock skew) read as 0秒.
func humanDuration(v any) (string, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case int:
		d = time.Duration(x) * time.Second
	case int64:
		d = time.Duration(x) * time.Second
	case float64:
		d = time.Duration(x * float64(time.Second))
	default:
		return "", fmt.Errorf("duration: %T is not a duration or a number of seconds", v)
	}
	if d < 0 {
		d = 0
	}
	two := func(a int64, ua string, b int64, ub string) string {
		if b == 0 {
			return strconv.FormatInt(a, 10) + ua
		}
		return strconv.FormatInt(a, 10) + ua + strconv.FormatInt(b, 10) + ub
	}
	s := int64(d / time.Second)
	switch {
	case d < time.Minute:
		return strconv.FormatInt(s, 10) + "秒", nil
	case d < time.Hour:
		return two(s/60, "分", s%60, "秒"), nil
	case d < 24*time.Hour:
		return two(s/3600, "小时", s%3600/60, "分"), nil
	default:
		return two(s/86400, "天", s%86400/3600, "小时"), nil
	}
}

// mdEscape makes user-controlled text (labels, annotations, nicknames) safe
// to put in card markdown: it backslash-escapes the characters that start
// emphasis, code, links, strikethrough and tables, neutralises block syntax
// (headings, lists, rules) at the start of a line, and replaces < and > with
// their full-width forms. Mind's markdown renders <font> and <at> tags, and
// whether it decodes HTML entities is not documented; full-width brackets
// read the same on a phone and can never open a tag.
func mdEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	lineStart := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if invisible(r) {
			i += size
			continue
		}
		if lineStart && r != ' ' && r != '\t' {
			lineStart = false
			if strings.ContainsRune("#+-=", r) {
				b.WriteByte('\\')
			} else if n := orderedListMarker(s[i:]); n > 0 {
				// "12. x" starts a list; "12\. x" does not (a backslash
				// before a digit escapes nothing).
				b.WriteString(s[i : i+n])
				b.WriteByte('\\')
				b.WriteByte(s[i+n])
				i += n + 1
				continue
			}
		}
		switch r {
		case '\\', '*', '_', '`', '[', ']', '~', '|':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '&':
			// "&lt;at ...&gt;" must not become a tag in a renderer
			// that decodes entities: escape the & of anything that
			// reads like one.
			if entityLike(s[i+1:]) {
				b.WriteByte('\\')
			}
			b.WriteByte('&')
		case '<':
			b.WriteRune('＜')
		case '>':
			b.WriteRune('＞')
		case '\r':
			// \r\n and lone \r are both one line break.
			if !strings.HasPrefix(s[i+size:], "\n") {
				b.WriteByte('\n')
				lineStart = true
			}
		case '\n':
			b.WriteByte('\n')
			lineStart = true
		default:
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteRune(r)
			}
		}
		i += size
	}
	return b.String()
}

// entityLike reports whether s, the text after an &, starts like an HTML
// character reference: a name or #number, then ";".
func entityLike(s string) bool {
	for i := 0; i < len(s) && i < 32; i++ {
		c := s[i]
		switch {
		case c == ';':
			return i > 0
		case c == '#' && i == 0, c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return false
}

// invisible reports control characters other than line breaks and tabs,
// and the bidirectional overrides that can make text read differently from
// what it says ("Trojan Source"); cards drop them from user text.
func invisible(r rune) bool {
	switch {
	case r == '\n' || r == '\r' || r == '\t':
		return false
	case unicode.IsControl(r):
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	}
	return false
}

// plain makes user text fit a one-line plain-text field (the header title,
// button labels): whitespace collapsed, invisible characters dropped.
func plain(s string) string {
	return oneLine(strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s))
}

// orderedListMarker returns the number of digits when s starts like "12."
// or "3)", and 0 otherwise.
func orderedListMarker(s string) int {
	n := 0
	for n < len(s) && n < 10 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n > 0 && n < len(s) && (s[n] == '.' || s[n] == ')') {
		return n
	}
	return 0
}

// oneLine collapses all whitespace, newlines included, into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate shortens s to at most n characters (runes), ending with "…" when
// it cut. Its argument order suits pipelines: {{ .Value | truncate 80 }}.
// Truncate before mdEscape, so that no escape is cut in half.
func truncate(n int, s string) string {
	if n <= 0 {
		return ""
	}
	// Find where the first n-1 runes end, stopping as soon as s is known
	// to be longer than n: a long value is neither counted nor copied
	// whole (this was a fifth of a card's render time).
	cut, count := 0, 0
	for i := 0; i < len(s); {
		if count == n {
			return truncated(s[:cut])
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if count++; count == n-1 {
			cut = i
		}
	}
	return s
}

// truncated is prefix, invalid bytes as U+FFFD as a []rune conversion
// would make them, and "…".
func truncated(prefix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len("…"))
	for _, r := range prefix {
		b.WriteRune(r)
	}
	b.WriteString("…")
	return b.String()
}

// maxValues is the most metric values formatValues shows.
const maxValues = 10

// formatValues formats Grafana's metric values as "B=44.24, C=1", keys
// sorted, at most maxValues of them ("…" says there are more); empty for
// no values.
func formatValues(values map[string]float64) string {
	if len(values) == 0 {
		return ""
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, min(len(keys), maxValues)+1)
	for i, k := range keys {
		if i == maxValues {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, mdEscape(oneLine(truncate(40, k)))+"="+formatFloat(values[k]))
	}
	return strings.Join(parts, ", ")
}

// formatFloat shows a metric value to two decimals without trailing zeros,
// switching to three significant digits for the very small and very large.
func formatFloat(f float64) string {
	a := math.Abs(f)
	if math.IsNaN(f) || math.IsInf(f, 0) || (a != 0 && (a < 0.01 || a >= 1e15)) {
		return strconv.FormatFloat(f, 'g', 3, 64)
	}
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// Bounds of mdLabels' output.
const (
	labelValueRunes = 100
	labelsLineRunes = 400
)

// mdLabels renders labels as markdown, "name=value · name=value", sorted
// (alertname first), noisy labels dropped, each value on one line, cut to
// 100 characters and escaped; the whole line stops near 400 characters.
// It is empty for no labels.
func mdLabels(kv amtemplate.KV) string { return mdLabelsExcept(kv, nil, "") }

// mdLabelsExcept is mdLabels without the labels named in except and the
// label skip.
func mdLabelsExcept(kv, except amtemplate.KV, skip string) string {
	names := sortedNames(kv, func(k string) bool {
		_, common := except[k]
		return !common && k != skip && !strings.HasPrefix(k, "__")
	})
	var (
		b     strings.Builder
		runes int
	)
	for _, name := range names {
		item := oneLine(truncate(labelValueRunes, name)) + "=" + oneLine(truncate(labelValueRunes, kv[name]))
		n := utf8.RuneCountInString(item)
		if runes > 0 && runes+n > labelsLineRunes {
			b.WriteString(" · …")
			break
		}
		if runes > 0 {
			b.WriteString(" · ")
		}
		b.WriteString(mdEscape(item))
		runes += n
	}
	return b.String()
}

// sortedNames are the names of kv that keep accepts, sorted as
// Alertmanager's KV.SortedPairs sorts them: alertname first.
func sortedNames(kv amtemplate.KV, keep func(string) bool) []string {
	names := make([]string, 0, len(kv))
	for k := range kv {
		if keep(k) {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "alertname") != (names[j] == "alertname") {
			return names[i] == "alertname"
		}
		return names[i] < names[j]
	})
	return names
}

// Bounds of mdAnnotations' output.
const (
	maxAnnotations       = 5
	annotationNameRunes  = 40
	annotationValueRunes = 200
)

// ownPlace are the annotations a card shows in places of their own.
func ownPlace(name string) bool {
	return name == "summary" || name == "description" || name == "runbook_url" || strings.HasPrefix(name, "__")
}

// mdAnnotations renders the annotations of kv that have no place of their
// own on the card (summary, description, runbook_url and Grafana's "__"
// ones do), minus those named in except and skip: one "name: value" line
// each, sorted, the name cut to 40 and the value to 200 characters, both
// on one line and escaped; at most 5 lines, then one that counts the rest.
func mdAnnotations(kv, except amtemplate.KV, skip string) string {
	names := sortedNames(kv, func(k string) bool {
		_, common := except[k]
		return !common && k != skip && !ownPlace(k) && strings.TrimSpace(kv[k]) != ""
	})
	var b strings.Builder
	for i, name := range names {
		if i == maxAnnotations {
			fmt.Fprintf(&b, "\n另有 %d 条注释未显示", len(names)-i)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(mdEscape(oneLine(truncate(annotationNameRunes, name))))
		b.WriteString(": ")
		b.WriteString(mdEscape(oneLine(truncate(annotationValueRunes, kv[name]))))
	}
	return b.String()
}

// relevant drops labels nobody on call needs to read: Prometheus' internal
// "__"-prefixed ones (such as __name__) and Grafana's __alert_rule_uid__ and
// the like.
func relevant(kv amtemplate.KV) amtemplate.KV {
	out := make(amtemplate.KV, len(kv))
	for k, v := range kv {
		if strings.HasPrefix(k, "__") {
			continue
		}
		out[k] = v
	}
	return out
}

// mdLink renders a markdown link when u is a link a card may open
// (urlOK), and the escaped text alone when it is not.
func mdLink(text, u string) string {
	if !urlOK(u) {
		return mdEscape(text)
	}
	return "[" + mdEscape(text) + "](" + mdURL(u) + ")"
}

// mdImage renders an http(s) image URL as a markdown image, or nothing.
func mdImage(u string) string {
	if !urlOK(u) || strings.HasPrefix(u, "mind:") {
		return ""
	}
	return "![](" + mdURL(u) + ")"
}

// mdURL percent-encodes what would end a markdown link destination early.
// urlOK has bounded u to card.MaxURLBytes; the encoding may triple a few
// bytes, which the card's own size check accounts for.
var mdURLReplacer = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "\n", "%0A", "\r", "%0D")

func mdURL(u string) string { return mdURLReplacer.Replace(u) }

// severityRank orders severities for the title: 3 for critical-like, 2
// warning-like, 1 info-like, 0 unknown.
func severityRank(severity string) int {
	switch severityColor(severity) {
	case card.ColorRed:
		return 3
	case card.ColorOrange:
		return 2
	case card.ColorGreen:
		return 1
	}
	return 0
}

// severityColor maps a severity label value to a markdown font colour:
// red for critical-like, orange for warning-like, green for info-like, and
// "" when it does not know the value.
func severityColor(severity string) string {
	switch strings.ToLower(strings.TrimSpace(severity)) {
	case "critical", "crit", "page", "fatal", "emergency", "disaster", "high", "error", "p0", "p1":
		return card.ColorRed
	case "warning", "warn", "major", "minor", "medium", "average", "p2", "p3":
		return card.ColorOrange
	case "info", "information", "informational", "low", "notice", "none", "ok", "p4", "p5":
		return card.ColorGreen
	}
	return ""
}

// urlOK reports whether a card may carry u, on a button or in markdown:
// a link card.CheckURL accepts, at most card.MaxURLBytes long. A longer
// link is dropped rather than cut, since a cut one opens the wrong page.
func urlOK(u string) bool { return len(u) <= card.MaxURLBytes && card.CheckURL(u) == nil }

// alertmanagerLink is the group's alert list in Alertmanager when it fits
// on a card (urlOK): with the group-label filter, else the receiver's
// whole list, else nothing.
func alertmanagerLink(externalURL, receiver string, groupLabels amtemplate.KV) string {
	if len(externalURL) > card.MaxURLBytes || !urlOK(externalURL) {
		return ""
	}
	if u := alertmanagerURL(externalURL, receiver, groupLabels); urlOK(u) {
		return u
	}
	if u := alertmanagerURL(externalURL, receiver, nil); urlOK(u) {
		return u
	}
	return ""
}

// alertmanagerURL is Alertmanager's alert list for the group: receiver and a
// filter of the group labels, as Alertmanager's own __alertmanagerURL does.
func alertmanagerURL(externalURL, receiver string, groupLabels amtemplate.KV) string {
	q := "receiver=" + url.QueryEscape(receiver)
	var ms []string
	for _, p := range groupLabels.SortedPairs() {
		if p.Value == "" {
			continue
		}
		ms = append(ms, matcherName(p.Name)+"="+strconv.Quote(p.Value))
	}
	if len(ms) > 0 {
		q += "&filter=" + url.QueryEscape("{"+strings.Join(ms, ",")+"}")
	}
	return strings.TrimRight(externalURL, "/") + "/#/alerts?" + q
}

// matcherName quotes a label name that is not a classic Prometheus one
// (Alertmanager accepts UTF-8 names in quotes).
func matcherName(n string) string {
	for i, r := range n {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return strconv.Quote(n)
	}
	if n == "" {
		return `""`
	}
	return n
}
