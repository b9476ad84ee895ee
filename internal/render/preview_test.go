package render

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
)

func TestPreview(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "team.tmpl")
	require.NoError(t, os.WriteFile(file, []byte(`{{ define "team.db.title" }}DB {{ template "mind.title" . }}{{ end }}
{{ define "pager.button.ack" }}接{{ end }}`), 0o600))
	opts := testOptions()
	opts.Files = []string{file}
	r, reg := newRenderer(t, opts)
	g := loadAlertmanager(t, sharedTestdata+"/alertmanager/am-0.25-firing.json")
	in := Input{Receiver: &config.Receiver{Name: "r", OpenIDs: []string{"ou_a"}}, NotificationID: "n-1"}

	require.Equal(t, []string{"mind", "pager", "team.db"}, r.Sets())

	var reported []error
	p, err := r.Preview("edited.tmpl", `{{ define "mind.title" }}改 {{ .Nope }}{{ end }}{{ define "new.body" }}x{{ end }}`,
		func(err error) { reported = append(reported, err) })
	require.NoError(t, err)
	require.Equal(t, []string{"mind", "new", "pager", "team.db"}, p.Sets(), "the edited text's sets join")
	require.True(t, p.HasTemplate("new"))
	require.False(t, r.HasTemplate("new"), "the original is unchanged")

	c, err := p.Render(g, in)
	require.NoError(t, err)
	require.Len(t, reported, 1, "the fallback is reported")
	require.ErrorContains(t, reported[0], "edited.tmpl:1:")
	require.Equal(t, "触发中 · critical · HighCPU (1)", c.Header.Title.Content, "the fallback card's title")
	require.Zero(t, testutil.ToFloat64(r.tplErrors), "a preview's fallback is not the relay's")
	n, err := testutil.GatherAndCount(reg, "mind_relay_template_errors_total")
	require.NoError(t, err)
	require.Equal(t, 1, n)

	c, err = r.Render(g, in)
	require.NoError(t, err)
	require.Equal(t, "触发中 · critical · HighCPU (1)", c.Header.Title.Content)
	require.Len(t, reported, 1, "the original reports to nobody")

	_, err = r.Preview("edited.tmpl", "a\n{{ if }}", nil)
	require.ErrorContains(t, err, "template: edited.tmpl:2: missing value for if")

	p, err = r.Preview("edited.tmpl", "  \n", func(error) { t.Fatal(errors.New("no fallback expected")) })
	require.NoError(t, err)
	c, err = p.Render(g, in)
	require.NoError(t, err)
	require.Equal(t, "触发中 · critical · HighCPU (1)", c.Header.Title.Content)
}

// A preview clones the live templates while delivery workers render with
// them; run with -race.
func TestPreviewWhileRendering(t *testing.T) {
	r, _ := newRenderer(t, testOptions())
	g := loadAlertmanager(t, sharedTestdata+"/alertmanager/am-0.25-group-1.json")
	in := Input{Receiver: &config.Receiver{Name: "r", OpenIDs: []string{"ou_a"}}, NotificationID: "n-1"}
	done := make(chan error, 8)
	for i := range 8 {
		go func() {
			var err error
			for range 20 {
				if i%2 == 0 {
					_, err = r.Render(g, in)
				} else {
					var p *Renderer
					if p, err = r.Preview("edited.tmpl", `{{ define "mind.title" }}x{{ end }}`, nil); err == nil {
						_, err = p.Render(g, in)
					}
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
	c, err := r.Render(g, in)
	require.NoError(t, err)
	require.NotEqual(t, "x", c.Header.Title.Content)
}
