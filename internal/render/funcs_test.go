package render

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
)

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{time.Duration(0), "0秒"},
		{-5 * time.Second, "0秒"},
		{45 * time.Second, "45秒"},
		{1500 * time.Millisecond, "1秒"},
		{5 * time.Minute, "5分"},
		{5*time.Minute + 30*time.Second, "5分30秒"},
		{time.Hour, "1小时"},
		{time.Hour + 5*time.Minute + 59*time.Second, "1小时5分"},
		{26 * time.Hour, "1天2小时"},
		{72*time.Hour + 30*time.Minute, "3天"},
		{3600, "1小时"},
		{int64(90), "1分30秒"},
		{90.5, "1分30秒"},
	} {
		got, err := humanDuration(tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%v", tc.in)
	}
	_, err := humanDuration("1h")
	require.Error(t, err)
}

func TestMdEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain 中文 text: db-1:9100 (ok) 95%", "plain 中文 text: db-1:9100 (ok) 95%"},
		{"**bold** _it_ `code` ~~del~~ a|b", `\*\*bold\*\* \_it\_ \` + "`code\\`" + ` \~\~del\~\~ a\|b`},
		{"[x](javascript:alert(1))", `\[x\](javascript:alert(1))`},
		{`back\slash "quotes"`, `back\\slash "quotes"`},
		{"</font><at user_id='all'>", "＜/font＞＜at user\\_id='all'＞"},
		{"# h\n- item\n+ item\n  = rule\n12. ordered\n3) also\nx - y 1. z", "\\# h\n\\- item\n\\+ item\n  \\= rule\n12\\. ordered\n3\\) also\nx - y 1. z"},
		{"a\r\nb\rc", "a\nb\nc"},
		{"bidi\u202eevil\u2066 ctl\x00\x1b", "bidievil ctl"},
		{"\u202e# hidden heading", "\\# hidden heading"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"emoji 😀 and 表情", "emoji 😀 and 表情"},
		{"&lt;at user_id='all'&gt; &#60; &#x3c; &amp;", "\\&lt;at user\\_id='all'\\&gt; \\&#60; \\&#x3c; \\&amp;"},
		{"A & B &&; R&D &x y; &", "A & B &&; R&D &x y; &"},
	} {
		require.Equal(t, tc.want, mdEscape(tc.in), "%q", tc.in)
	}
}

func TestTruncateAndOneLine(t *testing.T) {
	require.Equal(t, "abc", truncate(3, "abc"))
	require.Equal(t, "ab…", truncate(3, "abcd"))
	require.Equal(t, "中文…", truncate(3, "中文字符"))
	require.Equal(t, "", truncate(0, "abc"))
	require.Equal(t, "a b c", oneLine(" a\n\tb  \r\nc "))
	require.Equal(t, "ab c", plain("a\u202eb\n c\x07"))
}

// truncate says what the []rune conversion it replaced said, invalid
// UTF-8 included.
func TestTruncateMatchesRuneConversion(t *testing.T) {
	old := func(n int, s string) string {
		if n <= 0 {
			return ""
		}
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		r := []rune(s)
		return string(r[:n-1]) + "…"
	}
	inputs := []string{"", "a", "ab", "abc", "abcd", "中文字符", "a\xffb\xfe\xfdc", "\xff\xff\xff\xff", "😀😀😀", strings.Repeat("长", 500)}
	for _, s := range inputs {
		for n := 0; n <= 6; n++ {
			require.Equal(t, old(n, s), truncate(n, s), "truncate(%d, %q)", n, s)
		}
		require.Equal(t, old(80, s), truncate(80, s))
	}
}

func TestFormatValues(t *testing.T) {
	require.Equal(t, "B=44.24, C=1", formatValues(map[string]float64{"C": 1, "B": 44.23943737541908}))
	require.Equal(t, "", formatValues(nil))
	for in, want := range map[float64]string{
		0: "0", -0.001: "-0.001", 0.5: "0.5", 1e20: "1e+20", 1234567.891: "1234567.89",
		math.NaN(): "NaN", math.Inf(1): "+Inf", -2.004: "-2",
	} {
		require.Equal(t, want, formatFloat(in), "%v", in)
	}
	require.Equal(t, `a\_b=1`, formatValues(map[string]float64{"a_b": 1}), "keys are escaped")
}

// Card times say their zone, as an offset from UTC that reads the same
// everywhere.
func TestFmtTime(t *testing.T) {
	at := time.Date(2026, 11, 22, 2, 6, 24, 900, time.UTC)
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{shanghai, "2026-11-22 10:06:24 UTC+8"},
		{time.UTC, "2026-11-22 02:06:24 UTC"},
		{mustLoc("Asia/Kolkata"), "2026-11-22 07:36:24 UTC+5:30"},
		{mustLoc("America/St_Johns"), "2026-11-21 22:36:24 UTC-3:30"},
		{mustLoc("America/New_York"), "2026-11-21 21:06:24 UTC-5"},
		{time.FixedZone("", 14*3600), "2026-11-22 16:06:24 UTC+14"},
	} {
		require.Equal(t, tc.want, fmtTime(at, tc.loc), tc.loc.String())
	}
	require.Equal(t, "未知", fmtTime(time.Time{}, shanghai))
}

func TestFormatValuesBounded(t *testing.T) {
	v := map[string]float64{}
	for i := range 1000 {
		v[fmt.Sprintf("v%04d", i)] = float64(i)
	}
	s := formatValues(v)
	require.Equal(t, maxValues, strings.Count(s, "="))
	require.True(t, strings.HasSuffix(s, ", …"), s)
	require.True(t, strings.HasPrefix(s, "v0000=0, v0001=1, "), s)
}

func TestLinksBounded(t *testing.T) {
	long := "https://a.example/?" + strings.Repeat("q", card.MaxURLBytes)
	require.Equal(t, "x", mdLink("x", long), "a link too long is text")
	require.Equal(t, "", mdImage(long))
	require.Equal(t, "[x](https://a.example/%28b%29)", mdLink("x", "https://a.example/(b)"))

	ok := "http://am:9093"
	filter := amtemplate.KV{}
	require.Contains(t, alertmanagerLink(ok, "r", amtemplate.KV{"alertname": "X"}), "filter=")
	for i := range 500 {
		filter[fmt.Sprintf("label_%03d", i)] = "value"
	}
	require.Equal(t, "http://am:9093/#/alerts?receiver=r", alertmanagerLink(ok, "r", filter), "the filter goes before the link")
	require.Equal(t, "", alertmanagerLink(long, "r", nil))
	require.Equal(t, "", alertmanagerLink("am:9093", "r", nil))
}

func TestMdLabels(t *testing.T) {
	require.Equal(t, "", mdLabels(nil))
	require.Equal(t, `alertname=X · a\_b=1 · z=\*`, mdLabels(amtemplate.KV{"z": "*", "__name__": "up", "a_b": "1", "alertname": "X"}))

	kv := amtemplate.KV{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		kv[k] = strings.Repeat("值", 200)
	}
	s := mdLabels(kv)
	require.True(t, strings.HasSuffix(s, " · …"), s)
	require.LessOrEqual(t, len([]rune(s)), labelsLineRunes+labelValueRunes+10)
	require.Contains(t, s, "a="+strings.Repeat("值", labelValueRunes-1)+"…")
}

func TestLinksAndImages(t *testing.T) {
	require.Equal(t, "[查看 \\*x\\*](https://x.example.com/a%20b%28c%29)", mdLink("查看 *x*", "https://x.example.com/a b(c)"))
	require.Equal(t, "查看", mdLink("查看", "javascript:alert(1)"))
	require.Equal(t, "查看", mdLink("查看", ""))
	require.Equal(t, "![](https://grafana.com/img.png)", mdImage("https://grafana.com/img.png"))
	require.Equal(t, "", mdImage("mind://msg/x"))
	require.Equal(t, "", mdImage("data:image/png;base64,xx"))
}

func TestSeverityColor(t *testing.T) {
	require.Equal(t, "red", severityColor(" Critical "))
	require.Equal(t, "orange", severityColor("warning"))
	require.Equal(t, "green", severityColor("info"))
	require.Equal(t, "", severityColor("whatever"))
}
