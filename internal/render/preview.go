package render

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Preview returns a renderer for the template preview page and `relay
// render --html`: r's templates and options, then text parsed after them
// as one more file named name would be (its defines replace r's), and every
// fallback reported to onFallback with its cause instead of being counted
// in the relay's metric and logged. r itself is unchanged; an empty text
// adds nothing. A parse error of text carries its line, as Go's
// text/template gives it ("template: NAME:LINE: ...").
func (r *Renderer) Preview(name, text string, onFallback func(error)) (*Renderer, error) {
	t, err := r.tmpl.Clone()
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	if strings.TrimSpace(text) != "" {
		if _, err := t.New(name).Parse(text); err != nil {
			return nil, err
		}
	}
	return &Renderer{
		tmpl: t,
		opts: r.opts,
		tplErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mind_relay_template_errors_total",
			Help: "Template errors of a preview; never registered.",
		}),
		logger:     slog.New(slog.DiscardHandler),
		onFallback: onFallback,
	}, nil
}

// Sets lists the template sets r defines, sorted, the default set first:
// every NAME with a NAME.title, NAME.body or NAME.button.<kind> template.
func (r *Renderer) Sets() []string {
	parts := append([]string{partTitle, partBody}, buttonParts()...)
	seen := map[string]bool{}
	for _, t := range r.tmpl.Templates() {
		for _, part := range parts {
			if set, ok := strings.CutSuffix(t.Name(), "."+part); ok && set != "" && set != DefaultSet {
				seen[set] = true
			}
		}
	}
	out := make([]string, 0, len(seen)+1)
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return append([]string{DefaultSet}, out...)
}
