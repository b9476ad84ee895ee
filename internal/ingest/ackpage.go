package ingest

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/alert"
	"github.com/mindoffice/mind-relay/internal/chat"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/render"
)

// The ack page, for Mind clients without card callbacks: the card's
// "网页确认" button opens GET /ack/{token}.
//
// The token is the capability: it is signed, names one group and expires
// (ack.token_ttl); whoever has the card has it. So:
//   - GET never changes anything: link previews, crawlers and prefetching
//     browsers open links, and must not ack.
//   - Only POST acks, from the page's own form. A cross-site form cannot
//     forge it without the token, and a browser that says the POST comes
//     from another site (Sec-Fetch-Site: cross-site) is refused anyway.
//   - The page loads nothing from elsewhere (CSP default-src 'none'), may
//     not be framed (clickjacking), sends no Referer (the URL holds the
//     token) and is not cached.

const maxPageForm = 16 << 10

var pageTmpl = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ if .Known }}{{ .Title }} · {{ end }}告警确认 · mind-relay</title>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem}.firing{color:#c62828}.acked{color:#e65100}.resolved{color:#2e7d32}
.msg{padding:.6rem .8rem;border-radius:4px;background:#f3f3f3;margin:1rem 0}
ul{padding-left:1.2rem}li{margin:.5rem 0}.labels,.since{color:#666;font-size:.9rem}
input[type=text]{padding:.4rem;width:14rem}button{padding:.45rem 1.2rem;font-size:1rem}
footer{margin-top:2rem;color:#999;font-size:.8rem}
</style></head><body>
{{ if .Msg }}<p class="msg">{{ .Msg }}</p>{{ end }}
{{ if .Known }}
<h1>{{ .Title }} <small>编号 {{ .ShortID }} · 第 {{ .Occurrence }} 次发生</small></h1>
<p>状态：{{ if eq .State "acked" }}<b class="acked">已确认</b>{{ else if eq .State "resolved" }}<b class="resolved">已恢复</b>{{ else }}<b class="firing">触发中，未确认</b>{{ end }}
{{ with .AckBy }}· 由 {{ . }} 于 {{ $.AckAt }} 确认{{ end }}{{ with .Silence }} · {{ . }}{{ end }}</p>
<p>接收人：{{ .Receiver }}（{{ .Recipients }}）</p>
<ul>{{ range .Alerts }}
<li><span class="{{ if .Firing }}firing{{ else }}resolved{{ end }}">{{ if .Firing }}触发中{{ else }}已恢复{{ end }}</span> {{ .Summary }}
{{ with .Labels }}<div class="labels">{{ . }}</div>{{ end }}{{ with .Since }}<div class="since">开始 {{ . }}</div>{{ end }}</li>{{ end }}
</ul>{{ with .Omitted }}<p>还有 {{ . }} 条告警未显示</p>{{ end }}
{{ with .IncidentHref }}<p><a href="{{ . }}">在告警事件视图中查看（需管理令牌）</a></p>{{ end }}
{{ with .Timeline }}<h2>经过</h2><ul class="timeline">{{ range . }}<li><span class="since">{{ .At }}</span> {{ .What }}</li>{{ end }}</ul>{{ end }}
{{ if .CanAck }}
<form method="post">
<label>你的名字（可不填）<br><input type="text" name="name" maxlength="40" autocomplete="name"></label>
<p><button type="submit">确认告警</button></p>
</form>
{{ end }}
{{ end }}
<footer>mind-relay</footer>
</body></html>
`))

// Page is what the ack page shows: the page model, built from the ack
// loop's view of the token's incident.
type Page struct {
	Status int // HTTP status
	Msg    string
	// Known is set when the token named a card the relay knows.
	Known      bool
	ShortID    string
	Title      string
	Occurrence int
	Receiver   string
	Recipients string
	State      string // firing, acked, resolved
	AckBy      string
	AckAt      string
	Silence    string
	Alerts     []PageAlert
	Omitted    int
	CanAck     bool
	Timeline   []PageEvent
	// IncidentHref links the incident view, when the admin UI is on.
	IncidentHref string
}

// PageAlert is one alert on the ack page.
type PageAlert struct {
	Summary string
	Labels  string
	Since   string
	Firing  bool
}

// PageEvent is one line of the incident's timeline.
type PageEvent struct {
	At, What string
}

const pageMaxAlerts = 20

func pageStatus(result string) int {
	switch result {
	case "", ack.ResultAcked, ack.ResultAlreadyAcked, ack.ResultResolved:
		return http.StatusOK
	case ack.ResultExpiredToken:
		return http.StatusGone
	case ack.ResultUnknownGroup:
		return http.StatusNotFound
	case ack.ResultError:
		return http.StatusInternalServerError
	default:
		return http.StatusForbidden
	}
}

// page turns the ack loop's view into the page model.
func (h *ackHandlers) page(v ack.View) Page {
	p := Page{Status: pageStatus(v.Result), Msg: ack.Msg(v.Result)}
	if !v.Known {
		return p
	}
	cfg := h.cfg()
	inc, g := v.Incident, v.Group
	p.Known, p.ShortID, p.Title, p.Occurrence = true, render.ShortID(inc.GroupID), ack.GroupName(g), inc.Occurrence
	p.Receiver, p.State, p.CanAck = v.Receiver.Name, string(inc.State), v.CanAck
	if cfg.Admin.Token != "" {
		p.IncidentHref = "/ui/incidents/" + inc.ID
	}
	switch {
	case v.Receiver.AllSubscribers:
		p.Recipients = "全部订阅用户"
	case v.Receiver.Schedule != "" && len(v.Receiver.OpenIDs) == 0:
		p.Recipients = "值班表 " + v.Receiver.Schedule + " 的值班人员"
	case v.Receiver.Schedule != "":
		p.Recipients = fmt.Sprintf("%d 人及值班表 %s 的值班人员", len(v.Receiver.OpenIDs), v.Receiver.Schedule)
	default:
		p.Recipients = fmt.Sprintf("%d 人", len(v.Receiver.OpenIDs))
	}
	if k := inc.Ack; k != nil && inc.State != incident.Firing {
		p.AckBy, p.AckAt = k.By, ack.FormatTime(cfg, k.At)
		if s := inc.Silence; s != nil && len(s.Live()) > 0 {
			p.Silence = "静默至 " + ack.FormatTime(cfg, s.Until)
		}
	}
	for i, a := range g.Alerts {
		if i == pageMaxAlerts {
			p.Omitted = len(g.Alerts) - pageMaxAlerts
			break
		}
		pa := PageAlert{Summary: alertSummary(a), Firing: a.Status == alert.StatusFiring}
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			if _, common := g.CommonLabels[k]; !common || len(g.Alerts) == 1 {
				kv = append(kv, k+"="+a.Labels[k])
			}
		}
		pa.Labels = strings.Join(kv, " · ")
		if !a.StartsAt.IsZero() {
			pa.Since = ack.FormatTime(cfg, a.StartsAt)
		}
		p.Alerts = append(p.Alerts, pa)
	}
	for _, e := range v.Timeline {
		p.Timeline = append(p.Timeline, PageEvent{At: ack.FormatTime(cfg, e.At), What: chat.EventText(e)})
	}
	return p
}

func alertSummary(a alert.Alert) string {
	for _, v := range []string{a.Annotations["summary"], a.Annotations["message"], a.Labels["alertname"]} {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return "告警"
}

func (h *ackHandlers) viewPage(c *gin.Context) {
	v, err := h.acks.ViewPage(c.Request.Context(), c.Param("token"))
	if err != nil {
		h.log.Error("ack page", "err", err)
	}
	h.renderPage(c, h.page(v))
}

func (h *ackHandlers) ackPage(c *gin.Context) {
	if c.GetHeader("Sec-Fetch-Site") == "cross-site" {
		h.renderPage(c, Page{Status: http.StatusForbidden, Msg: "请在确认页面上提交"})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxPageForm)
	name := c.PostForm("name")
	v, err := h.acks.AckByPage(c.Request.Context(), c.Param("token"), name)
	if err != nil {
		h.log.Error("ack page: ack failed", "err", err)
	}
	h.renderPage(c, h.page(v))
}

func (h *ackHandlers) renderPage(c *gin.Context, p Page) {
	h.renderHTML(c, pageTmpl, p, p.Status)
}

// renderHTML writes a page of the ack routes (the ack and digest pages)
// with their security headers, status (0 for 200) and template.
func (h *ackHandlers) renderHTML(c *gin.Context, tmpl *template.Template, data any, status int) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		h.fail(c, &Error{Status: http.StatusInternalServerError, Msg: "cannot render the page", Err: err})
		return
	}
	pageHeaders(c.Writer.Header())
	if status == 0 {
		status = http.StatusOK
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}
