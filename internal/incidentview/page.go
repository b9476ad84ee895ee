package incidentview

import (
	"bytes"
	"fmt"
	"html/template"
	"io"

	"github.com/mindoffice/mind-relay/internal/preview"
)

// The pages are html/template (every value escaped), parsed into the
// preview pages' shared layout: the same styles, header and navigation.
// No script; filters are a GET form and pages are links, so the view
// reads, filters and pages with the keyboard alone and without
// JavaScript. The state colours are the cards' header colours.
const pageTemplates = `
{{ define "incidents-head" }}<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ . }} · mind-relay</title>
{{ template "css" }}<style>
.st{display:inline-block;padding:.1rem .55rem;border-radius:4px;color:#fff;font-weight:600;font-size:.85rem;white-space:nowrap}
.st-firing{background:#f54a45}.st-acked{background:#ff8800}.st-resolved{background:#34b86c}
tr.inc-firing td:first-child{border-left:4px solid #f54a45}tr.inc-acked td:first-child{border-left:4px solid #ff8800}tr.inc-resolved td:first-child{border-left:4px solid #34b86c}
.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end;background:#fff;border:1px solid var(--line);border-radius:6px;padding:.6rem .9rem;margin-bottom:1rem}
.filters label{margin:0 0 .2rem}.filters select{width:auto;min-width:10rem}
.labels{color:var(--muted);font-size:.82rem}.labels code{margin-right:.4rem}
.muted{color:var(--muted)}.title a{font-weight:600}
ol.timeline{margin:.2rem 0;padding-left:1.2rem;font-size:.85rem}ol.timeline time{color:var(--muted);margin-right:.4rem}
details summary{cursor:pointer}td.when{white-space:nowrap}
.pager{display:flex;gap:1.2rem;margin:.5rem 0 1.5rem}
.panel{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
.panel h2{margin-top:0}
</style></head>{{ end }}

{{ define "incident-state" }}<span class="st st-{{ .State }}" data-state="{{ .State }}">{{ .StateText }}</span>{{ end }}

{{ define "incident-labels" }}{{ if . }}<div class="labels">{{ range . }}<code>{{ .Name }}={{ .Value }}</code>{{ end }}</div>{{ end }}{{ end }}

{{ define "incident-ack" }}{{ with .Ack }}<span class="acker">{{ .By }}</span>{{ with .OpenID }} <span class="muted">（{{ . }}）</span>{{ end }}<br><span class="muted">{{ .Via }} · {{ .At }}</span>{{ else }}<span class="muted">未确认</span>{{ end }}{{ end }}

{{ define "incident-silence" }}{{ with .Silence }}{{ . }}{{ end }}{{ with .SilenceError }}<span class="muted">静默失败：{{ . }}</span>{{ end }}{{ if not (or .Silence .SilenceError) }}<span class="muted">无</span>{{ end }}{{ end }}

{{ define "incidents" }}{{ template "incidents-head" "告警事件" }}<body>
{{ template "top" (topOf .Nav true) }}
<main>
<h1>告警事件</h1>
{{ with .Msg }}<p class="msg" role="alert">{{ . }}</p>{{ end }}
<form class="filters" method="get" action="/ui/incidents" aria-label="筛选">
<div><label for="state">状态</label>
<select id="state" name="state">{{ range .States }}<option value="{{ .Value }}"{{ if .Selected }} selected{{ end }}>{{ .Label }}</option>{{ end }}</select></div>
<div><label for="receiver">接收人</label>
<select id="receiver" name="receiver">{{ range .Receivers }}<option value="{{ .Value }}"{{ if .Selected }} selected{{ end }}>{{ .Label }}</option>{{ end }}</select></div>
<div><button type="submit">筛选</button></div>
</form>
{{ if .Rows }}
<table class="incidents">
<caption class="hint">最近更新的在前，每页最多 {{ pageSize }} 个。已恢复的事件保留 7 天。</caption>
<thead><tr><th scope="col">状态</th><th scope="col">告警组</th><th scope="col">接收人</th><th scope="col">首次出现</th><th scope="col">确认</th><th scope="col">静默</th><th scope="col">经过</th></tr></thead>
<tbody>
{{ range .Rows }}<tr class="inc-{{ .State }}" data-incident="{{ .ID }}">
<td>{{ template "incident-state" . }}</td>
<td><div class="title"><a href="{{ .Href }}">{{ .Title }}</a> <span class="muted">编号 {{ .ShortID }} · 第 {{ .Occurrence }} 次</span></div>
<div class="muted">{{ .Firing }}/{{ .Alerts }} 条触发中 · {{ .Source }}</div>
{{ template "incident-labels" .Labels }}</td>
<td>{{ .Receiver }}{{ with .Recipients }}<br><span class="muted">{{ . }}</span>{{ end }}</td>
<td class="when">{{ .OpenedAt }}</td>
<td>{{ template "incident-ack" . }}</td>
<td>{{ template "incident-silence" . }}</td>
<td>{{ if .Events }}<details><summary>{{ .EventCount }} 条，更新于 {{ .UpdatedAt }}</summary>
<ol class="timeline">{{ range .Events }}<li><time>{{ .At }}</time>{{ .What }}</li>{{ end }}</ol>
<a href="{{ .Href }}">全部经过</a></details>{{ else }}<span class="muted">更新于 {{ .UpdatedAt }}</span>{{ end }}</td>
</tr>
{{ end }}</tbody></table>
{{ else if not .Msg }}<p class="hint">没有符合条件的告警事件。</p>{{ end }}
{{ if or .Next .First }}<nav class="pager" aria-label="翻页">{{ with .First }}<a href="{{ . }}">第一页</a>{{ end }}{{ with .Next }}<a href="{{ . }}" rel="next">下一页</a>{{ end }}</nav>{{ end }}
</main></body></html>{{ end }}

{{ define "incident" }}{{ template "incidents-head" (or .Title "告警事件") }}<body>
{{ template "top" (topOf .Nav true) }}
<main>
<p><a href="/ui/incidents">← 全部告警事件</a></p>
{{ if not .Found }}<h1>告警事件</h1><p class="msg" role="alert">{{ .Msg }}</p>{{ else }}
<h1>{{ template "incident-state" . }} <span class="title">{{ .Title }}</span> <small class="muted">编号 {{ .ShortID }} · 第 {{ .Occurrence }} 次发生</small></h1>
<div class="panel">
<dl class="meta">
<dt>状态</dt><dd>{{ .StateText }}{{ with .ResolvedAt }} · {{ . }} 恢复{{ end }}{{ with .ResolvedBy }}（{{ . }}）{{ end }}</dd>
<dt>接收人</dt><dd>{{ .Receiver }}{{ with .Recipients }}（{{ . }}）{{ end }}</dd>
<dt>来源</dt><dd>{{ .Source }}</dd>
<dt>首次出现</dt><dd>{{ .OpenedAt }}</dd>
<dt>最近更新</dt><dd>{{ .UpdatedAt }}</dd>
<dt>告警</dt><dd>{{ .Firing }}/{{ .Alerts }} 条触发中</dd>
<dt>确认</dt><dd>{{ template "incident-ack" . }}{{ with .Ack }}<br><span class="muted">覆盖 {{ .Alerts }} 条告警</span>{{ end }}</dd>
<dt>告警组标签</dt><dd>{{ template "incident-labels" .Labels }}{{ if not .Labels }}<span class="muted">无</span>{{ end }}</dd>
<dt>事件编号</dt><dd><code>{{ .ID }}</code></dd>
<dt>告警组</dt><dd><code>{{ .GroupID }}</code></dd>
</dl>
</div>
<div class="panel">
<h2>静默</h2>
<p>{{ template "incident-silence" . }}</p>
{{ if .Silences }}<table><thead><tr><th scope="col">静默编号</th><th scope="col">来源处到期</th><th scope="col">状态</th></tr></thead><tbody>
{{ range .Silences }}<tr><td><code>{{ .ID }}</code></td><td>{{ .EndsAt }}</td><td>{{ .State }}</td></tr>{{ end }}
</tbody></table>
<p class="muted">{{ with .SilenceKind }}{{ . }} · {{ end }}{{ with .SilenceFor }}确认时静默 {{ . }}{{ end }}{{ with .SilenceUntil }}，至 {{ . }}{{ end }}{{ with .SilenceLink }} · <a href="{{ . }}">在来源处查看</a>{{ end }}</p>{{ end }}
</div>
<div class="panel">
<h2>最近一张卡片的告警</h2>
{{ if .AlertList }}<table><thead><tr><th scope="col">状态</th><th scope="col">告警</th><th scope="col">开始</th></tr></thead><tbody>
{{ range .AlertList }}<tr><td>{{ if .Firing }}<span class="st st-{{ if .Acked }}acked{{ else }}firing{{ end }}">{{ if .Acked }}已确认{{ else }}触发中{{ end }}</span>{{ else }}<span class="st st-resolved">已恢复</span>{{ end }}</td>
<td>{{ .Summary }}{{ template "incident-labels" .Labels }}</td><td>{{ .Since }}</td></tr>{{ end }}
</tbody></table>{{ with .AlertsOmitted }}<p class="hint">还有 {{ . }} 条告警未显示。</p>{{ end }}{{ else if not .Known }}<p class="hint">这张卡片已从队列中清理。</p>{{ end }}
</div>
<div class="panel">
<h2>经过</h2>
{{ with .TimelineOmitted }}<p class="hint">共 {{ $.EventCount }} 条，前 {{ . }} 条未显示。</p>{{ end }}
<ol class="timeline" id="timeline">{{ range .Timeline }}<li data-kind="{{ .Kind }}"><time>{{ .At }}</time>{{ .What }}</li>{{ end }}</ol>
</div>
{{ end }}
</main></body></html>{{ end }}
`

var pages = func() *template.Template {
	t, err := preview.Layout()
	if err != nil {
		panic(err)
	}
	return template.Must(t.Funcs(template.FuncMap{"pageSize": func() int { return PageSize }}).Parse(pageTemplates))
}()

// WriteList writes the list page.
func WriteList(w io.Writer, l List) error { return execute(w, "incidents", l) }

// WriteDetail writes the page of one incident.
func WriteDetail(w io.Writer, d Detail) error { return execute(w, "incident", d) }

func execute(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("incident page %s: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
