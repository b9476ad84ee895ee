package preview

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
	"unicode/utf8"

	mindrelay "github.com/mindoffice/mind-relay"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/relay"
)

// NavItem is a link of the pages' navigation.
type NavItem struct {
	Href, Label string
	Current     bool
}

// Nav is the navigation of the relay's pages, current marking one.
func Nav(current string) []NavItem {
	items := []NavItem{{Href: "/ui/preview", Label: "模板预览"}, {Href: "/ui/incidents", Label: "告警事件"}}
	for i := range items {
		items[i].Current = items[i].Href == current
	}
	return items
}

// Form is what the preview page's form holds.
type Form struct {
	Sample    string // a name from mindrelay.Samples()
	Payload   string // pasted: when not blank, it is previewed, not Sample
	Source    string // of the pasted payload; a sample's folder names its own
	Receiver  string // empty: route
	Set       string // empty: each receiver's own
	Templates string
	Acked     bool
}

// Pasted reports whether the form previews its pasted payload.
func (f Form) Pasted() bool { return strings.TrimSpace(f.Payload) != "" }

// Showing says what the form previews: "粘贴的内容" or the sample, and the
// source.
func (f Form) Showing() string {
	in, err := f.Input()
	if err != nil {
		return ""
	}
	what := f.Sample
	if f.Pasted() {
		what = "粘贴的内容"
	}
	return what + "（" + string(in.Source) + "）"
}

// Input turns the form into a preview input: the pasted payload, or else
// the chosen sample with the source its folder names.
func (f Form) Input() (Input, error) {
	in := Input{Source: alert.Source(f.Source), Receiver: f.Receiver, Set: f.Set, Templates: f.Templates, Acked: f.Acked}
	if f.Pasted() {
		in.Payload = []byte(f.Payload)
		return in, nil
	}
	b, err := mindrelay.Sample(f.Sample)
	if err != nil {
		return in, err
	}
	in.Payload = b
	if src, _, ok := cutDir(f.Sample); ok {
		in.Source = alert.Source(src)
	}
	return in, nil
}

func cutDir(name string) (dir, rest string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return name[:i], name[i+1:], true
		}
	}
	return "", name, false
}

// Page is the template preview page.
type Page struct {
	Nav       []NavItem
	Form      Form
	Samples   []string
	Sources   []string
	Receivers []string
	Sets      []string
	// Result is nil before the first submit.
	Result *Result
	// Msg is a message above everything (a refused request).
	Msg string
}

// NewPage is the page for the live state st, with form f.
func NewPage(st *relay.State, f Form) Page {
	p := Page{
		Nav:     Nav("/ui/preview"),
		Form:    f,
		Samples: mindrelay.Samples(),
		Sources: []string{string(alert.SourceAlertmanager), string(alert.SourceGrafana)},
		Sets:    st.Renderer.Sets(),
	}
	for _, r := range st.Config.Receivers {
		if r != nil {
			p.Receivers = append(p.Receivers, r.Name)
		}
	}
	if p.Form.Sample == "" && len(p.Samples) > 0 {
		p.Form.Sample = p.Samples[0]
	}
	if p.Form.Source == "" {
		p.Form.Source = string(alert.SourceAlertmanager)
	}
	return p
}

// Login is the login page of the relay's pages.
type Login struct {
	Nav  []NavItem
	Msg  string
	Next string
}

// WritePage writes the preview page.
func WritePage(w io.Writer, p Page) error { return execute(w, "page", p) }

// WriteLogin writes the login page.
func WriteLogin(w io.Writer, l Login) error { return execute(w, "login", l) }

// WriteDocument writes res as one standalone HTML document (`relay render
// --html`): the cards drawn, what would be sent, the errors.
func WriteDocument(w io.Writer, res *Result) error { return execute(w, "document", res) }

// Layout returns a copy of the pages' shared parts, for the relay's other
// pages (package incidentview) to parse theirs into: "css" (the styles,
// card colours included), "top" (the header with the navigation and the
// logout form; its data is topOf NAV LOGGEDIN) and the function topOf.
func Layout() (*template.Template, error) { return layout.Clone() }

// layout is pages before any execution (html/template clones only those).
var layout = template.Must(pages.Clone())

func execute(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("preview page %s: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// column is a TemplateError's column as a reader counts it, characters
// from 1; 0 when unknown. Go gives the byte offset in the line, from 0, so
// the line must be known (edited text) to count characters.
func column(te TemplateError) int {
	if te.Line == 0 || te.Source == "" || te.Column > len(te.Source) {
		return 0
	}
	return utf8.RuneCountInString(te.Source[:te.Column]) + 1
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"column": column,
	"caret": func(te TemplateError) string {
		n := column(te)
		if n <= 0 {
			return ""
		}
		b := make([]rune, 0, n)
		for _, r := range []rune(te.Source)[:min(n-1, utf8.RuneCountInString(te.Source))] {
			if r == '\t' {
				b = append(b, '\t')
			} else {
				b = append(b, ' ')
			}
		}
		return string(b) + "^"
	},
	"bodyText": func(b []byte) string { return string(b) },
	"topOf": func(nav []NavItem, loggedIn bool) map[string]any {
		return map[string]any{"Nav": nav, "LoggedIn": loggedIn}
	},
}).Parse(pageTemplates))
