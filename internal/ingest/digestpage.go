package ingest

import (
	"fmt"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/mindoffice/mind-relay/internal/ack"
	"github.com/mindoffice/mind-relay/internal/incident"
	"github.com/mindoffice/mind-relay/internal/render"
)

// The digest page: a digest card's "查看全部并确认" button opens GET
// /digest/{token}, which lists every group the digest folded with an ack
// button each. The same rules as the ack page: the token is a signed,
// expiring capability naming one digest; GET never changes anything; only
// the page's own POST acks; the same headers.

var digestTmpl = template.Must(template.New("digest").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>告警汇总 · mind-relay</title>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem}.firing{color:#c62828}.acked{color:#e65100}.resolved{color:#2e7d32}
.msg{padding:.6rem .8rem;border-radius:4px;background:#f3f3f3;margin:1rem 0}
table{border-collapse:collapse;width:100%}td,th{padding:.4rem;border-bottom:1px solid #eee;text-align:left}
.id{color:#666;font-size:.9rem}input[type=text]{padding:.4rem;width:14rem}button{padding:.35rem 1rem}
footer{margin-top:2rem;color:#999;font-size:.8rem}
</style></head><body>
{{ if .Msg }}<p class="msg">{{ .Msg }}</p>{{ end }}
{{ if .Known }}
<h1>告警汇总：{{ len .Groups }} 个告警组 <small>接收人：{{ .Receiver }}</small></h1>
<form method="post">
<p><label>你的名字（可不填）<br><input type="text" name="name" maxlength="40" autocomplete="name"></label></p>
<table><tr><th>告警</th><th>状态</th><th></th></tr>
{{ range .Groups }}<tr><td>{{ .Title }} <span class="id">编号 {{ .ShortID }} · {{ .Alerts }} 条</span></td>
<td>{{ if eq .State "acked" }}<b class="acked">已确认</b>{{ with .AckBy }} · {{ . }}{{ end }}{{ else if eq .State "resolved" }}<b class="resolved">已恢复</b>{{ else }}<b class="firing">触发中，未确认</b>{{ end }}</td>
<td>{{ if .CanAck }}<button type="submit" name="card" value="{{ .CardID }}">确认</button>{{ end }}</td></tr>
{{ end }}</table>
{{ if .CanAckAny }}<p><button type="submit">全部确认</button></p>{{ end }}
</form>
{{ end }}
<footer>mind-relay</footer>
</body></html>
`))

// DigestPage is what the digest page shows.
type DigestPage struct {
	Status    int
	Msg       string
	Known     bool
	Receiver  string
	Groups    []DigestPageGroup
	CanAckAny bool
}

// DigestPageGroup is one group on the digest page.
type DigestPageGroup struct {
	CardID, Title, ShortID, State, AckBy string
	Alerts                               int
	CanAck                               bool
}

func digestPage(v ack.DigestView) DigestPage {
	p := DigestPage{Status: pageStatus(v.Result), Msg: ack.Msg(v.Result), Known: v.Known, Receiver: v.Receiver}
	if v.Acked > 0 {
		p.Msg = fmt.Sprintf("已确认 %d 个告警组", v.Acked)
	}
	for _, e := range v.Groups {
		inc := e.View.Incident
		g := DigestPageGroup{CardID: e.CardID, Title: ack.GroupName(e.View.Group), ShortID: render.ShortID(inc.GroupID),
			State: string(inc.State), Alerts: len(e.View.Group.Alerts), CanAck: e.View.CanAck}
		if k := inc.Ack; k != nil && inc.State != incident.Firing {
			g.AckBy = k.By
		}
		p.CanAckAny = p.CanAckAny || g.CanAck
		p.Groups = append(p.Groups, g)
	}
	return p
}

func (h *ackHandlers) viewDigest(c *gin.Context) {
	v, err := h.acks.ViewDigest(c.Request.Context(), c.Param("token"))
	if err != nil {
		h.log.Error("digest page", "err", err)
	}
	h.renderDigest(c, digestPage(v))
}

func (h *ackHandlers) ackDigest(c *gin.Context) {
	if c.GetHeader("Sec-Fetch-Site") == "cross-site" {
		h.renderDigest(c, DigestPage{Status: http.StatusForbidden, Msg: "请在汇总页面上提交"})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxPageForm)
	var cards []string
	if id := c.PostForm("card"); id != "" {
		cards = []string{id}
	}
	v, err := h.acks.AckDigest(c.Request.Context(), c.Param("token"), c.PostForm("name"), cards)
	if err != nil {
		h.log.Error("digest page: ack failed", "err", err)
	}
	h.renderDigest(c, digestPage(v))
}

func (h *ackHandlers) renderDigest(c *gin.Context, p DigestPage) {
	h.renderHTML(c, digestTmpl, p, p.Status)
}
