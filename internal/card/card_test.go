package card

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func valid() *Card {
	return &Card{
		Config: &Config{EnableForward: true, IsShareCard: true},
		Header: &Header{Title: Text{Content: "触发中 · X"}, Template: ColorRed},
		Elements: []Element{
			Markdown("**hi**"),
			Action(
				ViewButton("查看", "https://example.com/a?b=1&c=2"),
				ClickButton("确认", "relay.ack", map[string]any{"card_id": "$card_id"}),
			),
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Card)
		want   string
	}{
		{"valid", func(*Card) {}, ""},
		{"no header", func(c *Card) { c.Header = nil }, "card has no header"},
		{"empty title", func(c *Card) { c.Header.Title.Content = "  " }, "header.title.content is empty"},
		{"long title", func(c *Card) { c.Header.Title.Content = strings.Repeat("告", 201) }, "more than 200"},
		{"bad colour", func(c *Card) { c.Header.Template = "pink" }, `header.template "pink"`},
		{"no elements", func(c *Card) { c.Elements = nil }, "card has no elements"},
		{"unknown tag", func(c *Card) { c.Elements[0].Tag = "img" }, `elements[0]: tag "img"`},
		{"empty markdown", func(c *Card) { c.Elements[0].Content = "" }, "elements[0]: markdown content is empty"},
		{"empty action", func(c *Card) { c.Elements[1].Actions = nil }, "elements[1]: action element has no buttons"},
		{"view without url", func(c *Card) { c.Elements[1].Actions[0].URL = "" }, "elements[1].action[0]: url: empty"},
		{"view relative url", func(c *Card) { c.Elements[1].Actions[0].URL = "/x" }, `"/x" is not an http, https or mind link`},
		{"javascript url", func(c *Card) { c.Elements[1].Actions[0].URL = "javascript:alert(1)" }, "is not an http, https or mind link"},
		{"click without event", func(c *Card) { c.Elements[1].Actions[1].Event = "" }, "click button has no event"},
		{"button without text", func(c *Card) { c.Elements[1].Actions[1].Text.Content = "" }, "text.content is empty"},
		{"bad button type", func(c *Card) { c.Elements[1].Actions[1].Type = "submit" }, `type "submit" is not view or click`},
		{"too big", func(c *Card) { c.Elements[0].Content = strings.Repeat("x", MaxMarkdownBytes+1) }, "more than"},
		{"too big as sent", func(c *Card) {
			// 16 KiB of markdown, but each & is six bytes in a send body.
			c.Elements[0].Content = strings.Repeat("&", MaxMarkdownBytes)
		}, "bytes as sent, more than"},
		{"four buttons in a row", func(c *Card) {
			c.Elements[1].Actions = append(c.Elements[1].Actions, c.Elements[1].Actions...)
		}, "elements[1]: 4 buttons in one row, more than 3"},
		{"url too long", func(c *Card) {
			c.Elements[1].Actions[0].URL = "https://example.com/?" + strings.Repeat("a", MaxURLBytes)
		}, "elements[1].action[0]: url is 2069 bytes, more than 2048"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://a.example/x": true, "http://10.0.0.1:9093/#/alerts": true, "mind://msg/goal-detail?goal-id=1": true,
		"": false, "a.example": false, "ftp://a.example": false, "http://": false, "https://a b/%zz": false,
	} {
		require.Equal(t, ok, CheckURL(u) == nil, u)
	}
}

func TestJSONKeepsMarkdownReadable(t *testing.T) {
	c := valid()
	c.Elements[0].Content = "<font color='red'>a & b</font>"
	s, err := c.JSON()
	require.NoError(t, err)
	require.Contains(t, s, "<font color='red'>a & b</font>")
	require.False(t, strings.HasSuffix(s, "\n"))
	var back Card
	require.NoError(t, json.Unmarshal([]byte(s), &back))
	require.Equal(t, c.Elements[0].Content, back.Elements[0].Content)
	require.NoError(t, back.Validate())
}

func TestTooLargeIsMarked(t *testing.T) {
	c := valid()
	c.Elements[0].Content = strings.Repeat("<", MaxMarkdownBytes)
	require.ErrorIs(t, c.Validate(), ErrTooLarge)
	c.Elements[0].Content = ""
	require.NotErrorIs(t, c.Validate(), ErrTooLarge)
}

// EncodedLen must agree with encoding/json byte for byte, whatever s is:
// the size check is only as good as this count.
func TestEncodedLenMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `"quoted" \back\`, "<font color='red'>a & b</font>", "\n\r\t\b\f\x00\x1f\x7f",
		"告警😀", "\u2028\u2029", "bad \xff\xfe utf-8 \xe2\x80", "\\u003c",
	}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"\u2028")
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, len(want), EncodedLen(s), "%q", s)
	}
}

func FuzzEncodedLen(f *testing.F) {
	f.Add("<font>&\"\\\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := EncodedLen(s); got != len(want) {
			t.Fatalf("EncodedLen(%q) = %d, encoding/json writes %d bytes", s, got, len(want))
		}
	})
}

func TestRows(t *testing.T) {
	b := ViewButton("x", "https://a.example/")
	for n, want := range map[int][]int{0: {}, 1: {1}, 3: {3}, 4: {3, 1}, 7: {3, 3, 1}, 9: {3, 3, 3}} {
		rows := Rows(slices.Repeat([]Button{b}, n))
		got := []int{}
		for _, r := range rows {
			require.Equal(t, TagAction, r.Tag)
			got = append(got, len(r.Actions))
		}
		require.Equal(t, want, got, n)
	}
}
