package preview

// pageTemplates are the pages, server-rendered with html/template (which
// escapes every value): no script, nothing loaded from elsewhere, readable
// and usable with the keyboard alone.
const pageTemplates = `
{{ define "css" }}<style>
:root{--fg:#1f2329;--muted:#646a73;--line:#dee0e3;--bg:#f5f6f7;--focus:#1456f0}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);background:var(--bg);line-height:1.5}
.top{display:flex;align-items:center;gap:1.5rem;padding:.6rem 1.2rem;background:#fff;border-bottom:1px solid var(--line)}
.top .brand{font-weight:600}.top nav a{margin-right:1rem;color:var(--fg)}.top nav a[aria-current=page]{font-weight:600;text-decoration:none}
.top form{margin-left:auto}
main{padding:1rem 1.2rem;max-width:110rem;margin:0 auto}
h1{font-size:1.25rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.2rem 0 .5rem}
.layout{display:grid;grid-template-columns:minmax(18rem,26rem) 1fr;gap:1.5rem;align-items:start}
@media (max-width:60rem){.layout{grid-template-columns:1fr}}
fieldset{border:1px solid var(--line);border-radius:6px;background:#fff;margin:0 0 1rem;padding:.6rem .9rem}
legend{font-weight:600;padding:0 .3rem}
label{display:block;margin:.5rem 0 .2rem;font-weight:500}
.hint{color:var(--muted);font-size:.85rem;margin:.2rem 0}
select,textarea,input[type=password],input[type=text]{width:100%;font:inherit;padding:.35rem .45rem;border:1px solid #bbbfc4;border-radius:4px;background:#fff}
textarea{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
button{font:inherit;padding:.4rem 1rem;border:1px solid #1456f0;background:#1456f0;color:#fff;border-radius:4px;cursor:pointer}
button.secondary{background:#fff;color:#1456f0}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.check{display:flex;gap:.4rem;align-items:center;font-weight:400}.check input{width:auto}
.msg{padding:.6rem .8rem;border-radius:4px;background:#fff3cd;border:1px solid #f0d58c;margin:0 0 1rem}
.error{padding:.6rem .8rem;border-radius:4px;background:#fdecea;border:1px solid #f3b7b1;margin:.5rem 0}
.ok{color:#2e7d32}
.result{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin-bottom:1.2rem}
.result h2{margin-top:0}
.pair{display:grid;grid-template-columns:minmax(16rem,24rem) 1fr;gap:1rem;align-items:start}
@media (max-width:80rem){.pair{grid-template-columns:1fr}}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f8fa;border:1px solid var(--line);border-radius:4px;padding:.5rem .6rem;font-size:.8rem;margin:.3rem 0;max-height:32rem;overflow:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem;background:#fff;margin-bottom:1rem}th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
dl.meta{display:grid;grid-template-columns:auto 1fr;gap:.1rem .8rem;margin:.2rem 0 .8rem;font-size:.9rem}dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
.mind-card{width:100%;max-width:24rem;background:#fff;border:1px solid #dee0e3;border-radius:8px;overflow:hidden;box-shadow:0 1px 3px rgba(31,35,41,.08);font-size:14px;color:#1f2329}
.mc-header{padding:.7rem 1rem}.mc-title{margin:0;font-size:15px;font-weight:600;line-height:1.4;word-break:break-word}
.mc-h-red{background:#f54a45;color:#fff}.mc-h-orange{background:#ff8800;color:#fff}.mc-h-green{background:#34b86c;color:#fff}
.mc-h-blue{background:#3370ff;color:#fff}.mc-h-purple{background:#7f3bf5;color:#fff}.mc-h-none{background:#fff;color:#1f2329;border-bottom:1px solid #dee0e3}
.mc-body{padding:.7rem 1rem .9rem}
.mc-md,.mc-rich{word-break:break-word;margin:0 0 .6rem}.mc-rich p{margin:0 0 .3rem}
.mc-link{color:#3370ff;text-decoration:none}.mc-at{color:#3370ff}
.mc-c-red{color:#f54a45}.mc-c-green{color:#2ea121}.mc-c-orange{color:#ff8800}.mc-c-blue{color:#3370ff}.mc-c-purple{color:#7f3bf5}
.mc-c-grey,.mc-c-gray{color:#8f959e}.mc-c-yellow{color:#dc9b04}.mc-c-black{color:#1f2329}.mc-c-white{color:#fff}
.mc-h1,.mc-h2{font-size:16px}.mc-h3,.mc-h4,.mc-h5,.mc-h6{font-size:14px}.mc-li{display:inline-block;padding-left:.4rem}
.mc-hr{border:0;border-top:1px solid #dee0e3;margin:.4rem 0}
.mc-img{display:inline-block;border:1px dashed #bbbfc4;border-radius:4px;padding:.4rem .6rem;color:#8f959e;font-size:12px}
.mc-actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.2rem}
.mc-btn{display:inline-block;padding:.3rem .9rem;border-radius:6px;border:1px solid #d0d3d6;font-size:14px;line-height:1.4;cursor:default}
.mc-b-default{background:#fff;color:#1f2329}.mc-b-red{background:#f54a45;border-color:#f54a45;color:#fff}.mc-b-green{background:#34b86c;border-color:#34b86c;color:#fff}
.mc-b-orange{background:#ff8800;border-color:#ff8800;color:#fff}.mc-b-blue{background:#3370ff;border-color:#3370ff;color:#fff}.mc-b-purple{background:#7f3bf5;border-color:#7f3bf5;color:#fff}
.mc-unknown{color:#8f959e;font-style:italic}
</style>{{ end }}

{{ define "head" }}<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ . }} · mind-relay</title>
{{ template "css" }}</head>{{ end }}

{{ define "top" }}<header class="top"><span class="brand">mind-relay</span>
<nav aria-label="页面">{{ range .Nav }}<a href="{{ .Href }}"{{ if .Current }} aria-current="page"{{ end }}>{{ .Label }}</a>{{ end }}</nav>
{{ if .LoggedIn }}<form method="post" action="/ui/logout"><button type="submit" class="secondary">退出</button></form>{{ end }}
</header>{{ end }}

{{ define "login" }}{{ template "head" "登录" }}<body>
{{ template "top" (topOf .Nav false) }}
<main><h1>登录</h1>
{{ with .Msg }}<p class="msg" role="alert">{{ . }}</p>{{ end }}
<form method="post" action="/ui/login">
<fieldset><legend>管理令牌</legend>
<input type="text" name="username" value="admin" autocomplete="username" hidden>
<label for="token">admin.token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<p class="hint">令牌只用于这次比对；浏览器保存的是它的签名，不是令牌本身。</p>
<input type="hidden" name="next" value="{{ .Next }}">
<button type="submit">登录</button>
</fieldset></form></main></body></html>{{ end }}

{{ define "page" }}{{ template "head" "模板预览" }}<body>
{{ template "top" (topOf .Nav true) }}
<main>
<h1>模板预览</h1>
{{ with .Msg }}<p class="msg" role="alert">{{ . }}</p>{{ end }}
<div class="layout">
<form method="post" action="/ui/preview" aria-label="预览设置">
<fieldset><legend>告警内容</legend>
<label for="sample">示例</label>
<select id="sample" name="sample">{{ range .Samples }}<option value="{{ . }}"{{ if eq . $.Form.Sample }} selected{{ end }}>{{ . }}</option>{{ end }}</select>
<p class="hint">随 relay 一起发布的真实 webhook 内容；来源由目录决定。</p>
<label for="payload">或粘贴 webhook 内容（JSON）</label>
<textarea id="payload" name="payload" rows="8" spellcheck="false" aria-describedby="payload-hint">{{ .Form.Payload }}</textarea>
<p class="hint" id="payload-hint">填了就预览它，留空则用上面的示例。</p>
<label for="source">粘贴内容的来源</label>
<select id="source" name="source">{{ range .Sources }}<option value="{{ . }}"{{ if eq . $.Form.Source }} selected{{ end }}>{{ . }}</option>{{ end }}</select>
</fieldset>
<fieldset><legend>接收人与模板</legend>
<label for="receiver">接收人</label>
<select id="receiver" name="receiver"><option value="">按路由（route）</option>{{ range .Receivers }}<option value="{{ . }}"{{ if eq . $.Form.Receiver }} selected{{ end }}>{{ . }}</option>{{ end }}</select>
<label for="set">模板集</label>
<select id="set" name="set"><option value="">各接收人自己的</option>{{ range .Sets }}<option value="{{ . }}"{{ if eq . $.Form.Set }} selected{{ end }}>{{ . }}{{ if eq . "mind" }}（默认）{{ end }}</option>{{ end }}</select>
<label class="check"><input type="checkbox" name="acked" value="1"{{ if .Form.Acked }} checked{{ end }}>按已确认显示</label>
<label for="templates">编辑模板（可选）</label>
<textarea id="templates" name="templates" rows="12" spellcheck="false" aria-describedby="templates-hint" placeholder='{{ "{{" }} define "mind.title" {{ "}}" }}【测试】{{ "{{" }} .CommonLabels.alertname {{ "}}" }}{{ "{{" }} end {{ "}}" }}'>{{ .Form.Templates }}</textarea>
<p class="hint" id="templates-hint">在已配置的模板文件之后解析，如同 templates.files 里多一个文件：同名 define 会替换原有的。不会保存。</p>
</fieldset>
<button type="submit">预览</button>
</form>
<section aria-label="预览结果">
{{ with .Result }}<p class="showing">预览：{{ $.Form.Showing }}{{ with $.Form.Receiver }} → 接收人 {{ . }}{{ end }}</p>{{ template "results" . }}{{ else }}<p class="hint">选择示例或粘贴内容，然后按“预览”。不会向 Mind 发送任何内容。</p>{{ end }}
</section>
</div></main></body></html>{{ end }}

{{ define "document" }}{{ template "head" "卡片预览" }}<body><main>
<h1>卡片预览</h1>
<p class="hint">relay render --html：relay 会发送的内容，未发送。</p>
{{ template "results" . }}
</main></body></html>{{ end }}

{{ define "results" }}
{{ with .Error }}<div class="error" role="alert"><strong>无法预览：</strong>{{ . }}</div>{{ end }}
{{ range .Skipped }}<p class="msg">跳过 alerts[{{ .Index }}]：{{ .Reason }}</p>{{ end }}
{{ with .TemplateError }}<div class="error" role="alert"><strong>编辑的模板无法解析</strong>（{{ .File }} 第 {{ .Line }} 行）：{{ .Msg }}
{{ with .Source }}<pre>{{ . }}</pre>{{ end }}
<p>这样的文件会让配置加载失败（reload 时旧配置保持生效）。下面的卡片用的是当前生效的模板。</p></div>{{ end }}
{{ if .Routes }}<h2>路由</h2>
<table><thead><tr><th scope="col">告警</th><th scope="col">状态</th><th scope="col">匹配的路由</th><th scope="col">接收人</th></tr></thead><tbody>
{{ range .Routes }}{{ $a := . }}{{ range $i, $m := .Matched }}<tr>{{ if eq $i 0 }}<td rowspan="{{ len $a.Matched }}">{{ $a.Alert }}</td><td rowspan="{{ len $a.Matched }}">{{ $a.Status }}</td>{{ end }}
<td><code>{{ $m.Route }}</code>{{ range $m.Matchers }} <code>{{ . }}</code>{{ end }}</td><td>{{ $m.Receiver }}</td></tr>{{ end }}{{ end }}
</tbody></table>{{ else if .Receiver }}{{ if not .Error }}<p class="hint">指定了接收人 {{ .Receiver }}：不经路由（同 /webhook/{source}/{{ .Receiver }}）。</p>{{ end }}{{ end }}
{{ range .Cards }}
<div class="result" data-receiver="{{ .Receiver }}">
<h2>接收人 {{ .Receiver }}</h2>
<dl class="meta"><dt>接口</dt><dd><code>POST {{ .Endpoint }}</code></dd><dt>模板集</dt><dd>{{ .Set }}</dd>
<dt>发送的卡片</dt><dd>{{ if .Fallback }}<strong class="fallback">模板出错，会发送内置的备用卡片</strong>{{ else }}<span class="ok">模板卡片</span>{{ end }}</dd></dl>
{{ range .Errors }}{{ $e := . }}<div class="error template-error" role="alert"><strong>模板错误</strong>{{ if .Line }}（{{ .File }} 第 {{ .Line }} 行{{ with column . }}第 {{ . }} 列{{ end }}）{{ end }}：{{ .Msg }}
{{ with .Source }}<pre>{{ . }}
{{ caret $e }}</pre>{{ end }}</div>{{ end }}
<div class="pair">
<div><h3 class="hint">Mind 中的样子</h3>{{ .Drawing.HTML }}</div>
<div><h3 class="hint">请求体（原样）</h3><pre class="body">{{ bodyText .Body }}</pre>
<details><summary>卡片 JSON（content，已缩进）</summary><pre>{{ .Content }}</pre></details></div>
</div></div>
{{ end }}
{{ with .Templates }}<h2>编辑的模板</h2>
<p class="hint">未保存。要使用它，把下面的文本存成 templates.files 中的一个文件，然后重新加载配置。</p>
<label for="copy-templates">复制用文本</label>
<textarea id="copy-templates" rows="6" readonly spellcheck="false">{{ . }}</textarea>{{ end }}
{{ end }}
`
