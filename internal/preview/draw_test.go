package preview

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/testutil"
)

func TestMarkdown(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bold", "**级别** x", "<strong>级别</strong> x"},
		{"italic and strike", "*a* ~~b~~", "<em>a</em> <del>b</del>"},
		{"line breaks", "a\nb\n\nc", "a<br>b<br><br>c"},
		{"font colour by name", "<font color='red'>**触发中**</font>", `<span class="mc-font mc-c-red"><strong>触发中</strong></span>`},
		{"font colour in hex", `<font color="#808080">编号</font>`, `<span class="mc-font" style="color:#808080">编号</span>`},
		{"font colour not a colour is dropped", `<font color='expression(alert(1))'>x</font>`, `<span class="mc-font">x</span>`},
		{"font colour word not known", `<font color='url'>x</font>`, `<span class="mc-font">x</span>`},
		{"unclosed font is closed", "<font color='red'>x", `<span class="mc-font mc-c-red">x</span>`},
		{"stray close tag is text", "x</font>", "x&lt;/font&gt;"},
		{"at a user", "<at user_id='ou_1'>张三</at> 看一下", `<span class="mc-at" title="ou_1">@张三</span> 看一下`},
		{"at all", "<at user_id='all'></at>", `<span class="mc-at" title="all">@所有人</span>`},
		{"small", "<small>小字</small>", "<small>小字</small>"},
		{"link", "[查看](https://a.example/x?a=1&b=2)", `<a class="mc-link" href="https://a.example/x?a=1&amp;b=2" rel="noopener noreferrer">查看</a>`},
		{"javascript link is text", "[点我](javascript:alert(1))", "点我"},
		{"mind link is text here", "[目标](mind://msg/goal-detail?goal-id=1)", "目标"},
		{"image is a frame", "![](https://img.example/a.png)", `<span class="mc-img" title="https://img.example/a.png">图片 </span>`},
		{"escapes", `a\*b\* \[x\](y) \#1 \_`, "a*b* [x](y) #1 _"},
		{"heading", "### 标题", `<strong class="mc-h3">标题</strong>`},
		{"escaped heading", `\### 标题`, "### 标题"},
		{"bullet", "- 一项", `<span class="mc-li">• 一项</span>`},
		{"ordered", "2. 二", `<span class="mc-li">2. 二</span>`},
		{"rule", "---", `<hr class="mc-hr">`},
		{"code", "`up == 0`", "<code>up == 0</code>"},
		{"html is text", `<img src=x onerror=alert(1)><script>alert(1)</script>`, `&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(1)&lt;/script&gt;`},
		{"intraword underscore", "node_exporter_up", "node_exporter_up"},
		{"full-width brackets stay", "＜script＞", "＜script＞"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Markdown(tt.in))
		})
	}
}

// The card of seed 002's examples: a rich-text block, markdown with <at>,
// and a row of coloured buttons.
const seedCard = `{"config":{"enable_forward":true,"is_share_card":false},
"header":{"template":"purple","title":{"content":"Mind富文本消息"}},
"elements":[
 {"tag":"rich_text","content":[
   {"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"}],"text":"所有项目180天收入"},
     {"type":"mention","attrs":{"id":"9h1y8qd933","label":"帆导2号"}}]},
   {"type":"paragraph","content":[{"type":"text","text":"最后更新时间:2023-7-7"},
     {"type":"text","marks":[{"type":"link","attrs":{"href":"javascript:alert(1)"}}],"text":"坏链接"}]}]},
 {"tag":"rich_text","content":{"type":"paragraph","content":{"type":"text","text":"文本"}}},
 {"tag":"markdown","content":"**总结性分析总览**\n 哈哈 <at user_id='xxxx'>用户名</at> 解决了 <at user_id='all'>所有人</at> "},
 {"tag":"action","action":[
   {"tag":"button","text":{"content":"深度分析","tag":"plain_text"},"type":"view","template":"white","url":"https://mind.im30.net/"},
   {"tag":"button","text":{"content":"再次获取","tag":"plain_text"},"type":"click","template":"red","event":"mind.message.event.guide","value":{"card_id":"$card_id"}}]}]}`

func TestDrawSeedCard(t *testing.T) {
	d, err := Draw(seedCard)
	require.NoError(t, err)
	require.Equal(t, "Mind富文本消息", d.Title)
	require.Equal(t, "purple", d.Color)
	h := string(d.HTML)
	for _, want := range []string{
		`<article class="mind-card" data-header-template="purple"><header class="mc-header mc-h-purple"><h3 class="mc-title">Mind富文本消息</h3></header>`,
		`<div class="mc-rich"><p><strong>所有项目180天收入</strong><span class="mc-at">@帆导2号</span></p><p>最后更新时间:2023-7-7坏链接</p></div>`,
		`<div class="mc-rich"><p>文本</p></div>`,
		`<strong>总结性分析总览</strong><br> 哈哈 <span class="mc-at" title="xxxx">@用户名</span> 解决了 <span class="mc-at" title="all">@所有人</span>`,
		`<span class="mc-btn mc-b-default" data-type="view" title="https://mind.im30.net/">深度分析</span>`,
		`<span class="mc-btn mc-b-red" data-type="click" title="回调事件 mind.message.event.guide">再次获取</span>`,
	} {
		require.Contains(t, h, want)
	}
	require.NotContains(t, h, "javascript:")
}

func TestDrawEscapesEverything(t *testing.T) {
	evil := `\"><script>alert(1)</script><img src=x onerror=alert(1)>`
	content := `{"header":{"template":"red\" onmouseover=\"x","title":{"content":"` + evil + `"}},
"elements":[{"tag":"markdown","content":"[x](javascript:alert(1)) ` + evil + `"},
{"tag":"rich_text","content":[{"type":"paragraph","content":[{"type":"text","text":"` + evil + `"},{"type":"mention","attrs":{"label":"` + evil + `"}},{"type":"image","attrs":{"src":"javascript:alert(1)"}}]}]},
{"tag":"action","action":[{"tag":"button","text":{"content":"` + evil + `"},"type":"view","template":"red\" onclick=\"x","url":"javascript:alert(1)"}]},
{"tag":"<script>"}]}`
	d, err := Draw(content)
	require.NoError(t, err)
	testutil.RequireInertHTML(t, string(d.HTML))
	require.Equal(t, "", d.Color, "an unknown header template is no colour")
}
