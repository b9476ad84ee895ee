package payload

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/alert"
)

var parseNow = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// capturedPayloads are the project's captured webhook bodies.
func capturedPayloads(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for _, dir := range []string{"alertmanager", "grafana"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "testdata", dir, "*.json"))
		require.NoError(tb, err)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(tb, err)
			out[dir+"/"+filepath.Base(f)] = b
		}
	}
	require.NotEmpty(tb, out)
	return out
}

type parseFunc func(body []byte, now time.Time, fast bool) (*alert.Group, []Skipped, error)

// requireSameParse holds the fast path to encoding/json's answer.
func requireSameParse(t *testing.T, parse parseFunc, body []byte) {
	t.Helper()
	gf, sf, ef := parse(body, parseNow, true)
	gs, ss, es := parse(body, parseNow, false)
	if (ef == nil) != (es == nil) || ef != nil && ef.Error() != es.Error() {
		t.Fatalf("errors differ for %q:\nfast:   %v\nstdlib: %v", body, ef, es)
	}
	if !reflect.DeepEqual(gf, gs) {
		t.Fatalf("groups differ for %q:\nfast:   %#v\nstdlib: %#v", body, gf, gs)
	}
	if !reflect.DeepEqual(sf, ss) {
		t.Fatalf("skipped differ for %q:\nfast:   %#v\nstdlib: %#v", body, sf, ss)
	}
}

// The fast path must take the bodies senders really post (or it saves
// nothing), and give up on the inputs where encoding/json is subtle.
func TestFastPathTakesRealBodies(t *testing.T) {
	for name, b := range capturedPayloads(t) {
		if strings.Contains(name, "legacy") {
			continue
		}
		_, ok := decodeFast(b, strings.HasPrefix(name, "grafana/"))
		require.True(t, ok, name)
	}
}

func TestFastPathGivesUp(t *testing.T) {
	const a = `"alerts":[{"status":"firing","labels":{"a":"b"}}]`
	for _, tc := range []struct{ name, body string }{
		{"key differs in case", `{"Version":"4",` + a + `}`},
		{"non-ASCII key", `{"verſion":"4",` + a + `}`},
		{"escaped key", `{"versio\u006e":"4",` + a + `}`},
		{"repeated field", `{"version":"4","version":"4",` + a + `}`},
		{"repeated labels", `{"version":"4","alerts":[{"labels":{"a":"b"},"labels":{"c":"d"}}]}`},
		{"null alerts", `{"version":"4","alerts":null}`},
		{"null alert", `{"version":"4","alerts":[null]}`},
		{"null label", `{"version":"4","alerts":[{"labels":{"a":null}}]}`},
		{"invalid UTF-8", "{\"version\":\"4\",\"receiver\":\"\xff\"," + a + "}"},
		{"negative count", `{"version":"4","truncatedAlerts":-1,` + a + `}`},
		{"fractional count", `{"version":"4","truncatedAlerts":1.0,` + a + `}`},
		{"bad time", `{"version":"4","alerts":[{"labels":{"a":"b"},"startsAt":"yesterday"}]}`},
		{"bad ignored value", `{"version":"4","x":[1,},` + a + `}`},
		{"deep ignored value", `{"version":"4","x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `,` + a + `}`},
		{"trailing bytes", `{"version":"4",` + a + `}}`},
		{"control character", "{\"version\":\"4\",\"receiver\":\"\x01\"," + a + "}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok := decodeFast([]byte(tc.body), false)
			require.False(t, ok)
			requireSameParse(t, parseAlertmanager, []byte(tc.body))
		})
	}
}

func TestFastPathMatchesStdlibOnCaptured(t *testing.T) {
	for name, b := range capturedPayloads(t) {
		t.Run(name, func(t *testing.T) {
			requireSameParse(t, parseAlertmanager, b)
			requireSameParse(t, parseGrafana, b)
		})
	}
}

// FuzzFastMatchesStdlib: for any bytes, the fast path gives exactly what
// encoding/json into Alertmanager's (and Grafana's) types gives: the same
// group, the same skipped alerts, the same error.
func FuzzFastMatchesStdlib(f *testing.F) {
	for _, b := range capturedPayloads(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"}}]}`,
		`{"version":"4","alerts":[{"labels":{"a":"b","a":"c"},"annotations":{},"endsAt":"2001-01-01T00:00:00Z"}],"truncatedAlerts":18446744073709551615}`,
		`{"version":"4","alerts":[{"labels":{"\u00e9":"\ud83d\ude00"},"startsAt":"2026-11-22T10:07:31+08:00"}],"x":{"y":[1,2.5e3,true,null,"z"]}}`,
		`{"version":"1","alerts":[{"status":"firing","labels":{"a":"b"},"values":{"A":1,"B":-0.5e-3}}],"orgId":-1,"title":"t","state":"alerting","message":"m"}`,
		`{"version":"1","alerts":[{"labels":{"a":"b"},"orgId":1e3}]}`,
		`{"version":"4","alerts":[{"STATUS":"firing","labels":{"a":"b"}}]}`,
		`{"version":"4","alerts":[]}`,
		`{"version":"4","receiver":null,"groupLabels":null,"truncatedAlerts":null,"alerts":[{"labels":{"a":"b"},"annotations":null,"startsAt":null}]}`,
		`{"version":"1","ruleName":null,"alerts":[{"labels":{"a":"b"},"values":null}]}`,
		`{"version":"4"}`,
		` {"version":"4","alerts":[{"labels":{"a":"b"}}]} ` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		requireSameParse(t, parseAlertmanager, b)
		requireSameParse(t, parseGrafana, b)
	})
}

func BenchmarkParseGrafana(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "grafana", "docs-example-firing.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseGrafana(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAlertmanagerStdlib is the encoding/json path alone, the
// parser as it was before the fast path, for comparison.
func BenchmarkParseAlertmanagerStdlib(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alertmanager", "am-0.25-group-1.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseAlertmanager(body, parseNow, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGrafanaStdlib(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "grafana", "docs-example-firing.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseGrafana(body, parseNow, false); err != nil {
			b.Fatal(err)
		}
	}
}
