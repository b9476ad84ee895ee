package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/incident"
)

// digestLoop is a fake ack loop for the digest page.
type digestLoop struct {
	AckLoop
	acked [][]string // cards of each AckDigest
}

func (d *digestLoop) view() ack.DigestView {
	g := &alert.Group{CommonLabels: map[string]string{"alertname": "DiskFull"}, Alerts: alert.Alerts{{}}}
	return ack.DigestView{Known: true, Receiver: "oncall", Groups: []ack.DigestEntry{
		{CardID: "card-1", View: ack.View{Known: true, Group: g, CanAck: true,
			Incident: &incident.Incident{GroupID: "0123456789abcdef", State: incident.Firing}}},
	}}
}

func (d *digestLoop) ViewDigest(_ context.Context, tok string) (ack.DigestView, error) {
	if tok != "good" {
		return ack.DigestView{Result: ack.ResultInvalidToken}, nil
	}
	return d.view(), nil
}

func (d *digestLoop) AckDigest(_ context.Context, tok, _ string, cards []string) (ack.DigestView, error) {
	d.acked = append(d.acked, cards)
	v := d.view()
	v.Acked = 1
	return v, nil
}

func TestDigestPage(t *testing.T) {
	gin.SetMode(gin.TestMode)
	loop := &digestLoop{}
	e := gin.New()
	AckRoutes(AckDeps{Acks: loop, Config: func() *config.Config { return &config.Config{} }})(e)
	do := func(method, path string, form url.Values, site string) *httptest.ResponseRecorder {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(method, path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w
	}
	tests := []struct {
		name, method, path string
		form               url.Values
		site               string
		status             int
		contains           []string
		acked              int // AckDigest calls so far
	}{
		{"GET shows", http.MethodGet, "/digest/good", nil, "", 200, []string{"告警汇总：1 个告警组", "DiskFull", "编号 012345", `value="card-1"`, "全部确认"}, 0},
		{"GET with a bad token", http.MethodGet, "/digest/bad", nil, "", 403, nil, 0},
		{"POST from another site is refused", http.MethodPost, "/digest/good", url.Values{"card": {"card-1"}}, "cross-site", 403, []string{"请在汇总页面上提交"}, 0},
		{"POST acks one", http.MethodPost, "/digest/good", url.Values{"card": {"card-1"}}, "same-origin", 200, []string{"已确认 1 个告警组"}, 1},
		{"POST acks all", http.MethodPost, "/digest/good", url.Values{"name": {"张三"}}, "", 200, nil, 2},
	}
	for _, tc := range tests {
		w := do(tc.method, tc.path, tc.form, tc.site)
		require.Equal(t, tc.status, w.Code, tc.name)
		for _, s := range tc.contains {
			require.Contains(t, w.Body.String(), s, tc.name)
		}
		require.Len(t, loop.acked, tc.acked, tc.name)
		require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"), tc.name)
	}
	require.Equal(t, [][]string{{"card-1"}, nil}, loop.acked)
}
