package preview

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mindrelay "github.com/mindoffice/mind-relay"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/relay"
	"github.com/mindoffice/mind-relay/internal/render"
	"github.com/mindoffice/mind-relay/internal/route"
	"github.com/mindoffice/mind-relay/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden HTML under testdata/")

var fixedNow = time.Date(2026, 11, 22, 3, 12, 0, 0, time.UTC)

const testConfig = `
mind: {app_id: robot_test}
external_url: https://relay.example.com
ack: {secret: test-ack-secret-0123456789abcdef}
route:
  receiver: default
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      continue: true
    - matchers: ['team="blue"']
      receiver: blue
receivers:
  - {name: default, open_ids: [ou_default]}
  - {name: oncall, open_ids: [ou_a, ou_b], template: loud}
  - {name: blue, all_subscribers: true}
`

const loudTemplates = `{{ define "loud.title" }}【严重】{{ template "mind.title" . }}{{ end }}
{{ define "loud.button.ack" }}我来处理{{ end }}
`

// testState builds the state as app.buildState does, with a fixed clock.
func testState(t testing.TB, cfgYAML string) *relay.State {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "loud.tmpl"), []byte(loudTemplates), 0o600))
	cfg, err := config.Load([]byte(cfgYAML+"templates: {files: [\"*.tmpl\"]}\n"), dir)
	require.NoError(t, err)
	tree, err := route.Build(cfg.Route)
	require.NoError(t, err)
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	r, err := render.New(render.Options{
		Files:       cfg.Templates.Files,
		Location:    loc,
		ExternalURL: cfg.ExternalURL,
		AckSecret:   []byte(cfg.Ack.Secret.Value()),
		Now:         func() time.Time { return fixedNow },
	}, nil, nil)
	require.NoError(t, err)
	return &relay.State{Config: cfg, Tree: tree, Renderer: r}
}

func run(t testing.TB, st *relay.State, in Input) (*Result, error) {
	t.Helper()
	return Run(context.Background(), st, in, func() time.Time { return fixedNow })
}

// volatile are the parts of a drawing that differ from run to run: ack
// tokens sign a fresh notification id.
var volatile = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

func TestGoldenSamples(t *testing.T) {
	st := testState(t, testConfig)
	for _, name := range mindrelay.Samples() {
		t.Run(name, func(t *testing.T) {
			in, err := Form{Sample: name}.Input()
			require.NoError(t, err)
			res, err := run(t, st, in)
			if strings.Contains(name, "legacy") {
				require.Error(t, err, "the relay refuses legacy Grafana alerts")
			} else {
				require.NoError(t, err)
				require.NotEmpty(t, res.Cards)
			}
			var buf bytes.Buffer
			require.NoError(t, WriteDocument(&buf, res))
			got := volatile.ReplaceAll(buf.Bytes(), []byte("TOKEN"))
			golden := filepath.Join("testdata", strings.ReplaceAll(strings.TrimSuffix(name, ".json"), "/", "-")+".golden.html")
			// Each sample's golden holds what differs, the page's <main>;
			// the first one's whole page guards the shared head and styles.
			testutil.Golden(t, golden, testutil.HTMLMain(got), *update)
			if name == mindrelay.Samples()[0] {
				testutil.Golden(t, filepath.Join("testdata", "page.golden.html"), got, *update)
			}
		})
	}
}
