package testutil

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// colourStyle is the one style attribute the relay's pages write: a card's
// <font color> drawn as CSS.
var colourStyle = regexp.MustCompile(`^color:#[0-9a-f]{3,6}$`)

// RequireInertHTML fails when page (a whole page or a fragment) could run
// script or load anything: a script or embedding element, a <meta
// http-equiv>, an event-handler attribute, a javascript: URL, or a style
// attribute other than a plain colour.
func RequireInertHTML(t testing.TB, page string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			require.ErrorIs(t, z.Err(), io.EOF)
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "script", "img", "iframe", "object", "embed", "link", "base", "svg", "math":
			t.Fatalf("element <%s> in %q", tok.Data, page)
		case "meta":
			for _, a := range tok.Attr {
				require.NotEqual(t, "http-equiv", strings.ToLower(a.Key), "<meta http-equiv>")
			}
		}
		for _, a := range tok.Attr {
			key, val := strings.ToLower(a.Key), strings.ToLower(strings.TrimSpace(a.Val))
			require.False(t, strings.HasPrefix(key, "on"), "event handler %s=%q on <%s>", a.Key, a.Val, tok.Data)
			if key == "href" || key == "src" || key == "action" || key == "formaction" {
				require.False(t, strings.HasPrefix(val, "javascript:"), "%s=%q on <%s>", a.Key, a.Val, tok.Data)
			}
			if key == "style" {
				require.Regexp(t, colourStyle, val, "style on <%s>", tok.Data)
			}
		}
	}
}
