package mindtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
)

type answer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

type call struct {
	method  string
	path    string
	headers map[string]string // "" removes a default header
	body    string
}

func validCard(t testing.TB) string {
	t.Helper()
	c := card.Card{
		Config:   &card.Config{EnableForward: true},
		Header:   &card.Header{Title: card.Text{Content: "触发中: HighCPU"}, Template: card.ColorRed},
		Elements: []card.Element{card.Markdown("**cpu** is high"), card.Action(card.ViewButton("Alertmanager", "https://am.example/"))},
	}
	s, err := c.JSON()
	require.NoError(t, err)
	return s
}

func robotBody(t testing.TB, msgType, content string) string {
	t.Helper()
	b, err := json.Marshal(mind.RobotMessage{ReceiveOpenIDs: []string{"ou_a"}, MsgType: msgType, Content: content})
	require.NoError(t, err)
	return string(b)
}

func do(t testing.TB, s *mindtest.Server, c call) (int, answer, error) {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.path == "" {
		c.path = mind.EndpointRobotMessage
	}
	req, err := http.NewRequest(c.method, s.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		return 0, answer{}, err
	}
	h := map[string]string{
		"Content-Type": "application/json",
		"app-id":       s.Config().AppID,
		"app-secret":   s.Config().AppSecret,
		"x-request-id": "req-1",
	}
	for k, v := range c.headers {
		h[k] = v
	}
	for k, v := range h {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := s.HTTP.Client().Do(req)
	if err != nil {
		return 0, answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, answer{}, err
	}
	var a answer
	_ = json.Unmarshal(b, &a)
	return resp.StatusCode, a, nil
}

func TestFakeAccepts(t *testing.T) {
	s := mindtest.NewServer(t)
	cardJSON := validCard(t)
	for _, tc := range []struct {
		name  string
		c     call
		check func(t *testing.T, m mindtest.Message)
	}{
		{"robot interactive", call{body: robotBody(t, "interactive", cardJSON)}, func(t *testing.T, m mindtest.Message) {
			require.NotNil(t, m.Card)
			require.Equal(t, "触发中: HighCPU", m.Card.Header.Title.Content)
			require.Equal(t, []string{"ou_a"}, m.Robot.ReceiveOpenIDs)
		}},
		{"robot text", call{body: robotBody(t, "text", `{"text":"hello"}`)}, func(t *testing.T, m mindtest.Message) {
			require.Equal(t, "hello", m.Text)
		}},
		{"robot markdown", call{body: robotBody(t, "markdown", `{"text":"#### md"}`)}, func(t *testing.T, m mindtest.Message) {
			require.Equal(t, "#### md", m.Text)
		}},
		{"robot rich_text (seed 000)", call{body: robotBody(t, "rich_text", `[{"content":[{"text":"test","type":"text"}],"type":"paragraph"}]`)}, nil},
		{"send_message to subscribers", call{path: mind.EndpointSendMessage, body: `{"receive_type":1,"msg_type":"interactive","content":` + jsonString(cardJSON) + `}`}, func(t *testing.T, m mindtest.Message) {
			require.NotNil(t, m.Send)
			require.Equal(t, 1, m.Send.ReceiveType)
			require.NotNil(t, m.Card)
		}},
		{"send_message seed 001 example", call{path: mind.EndpointSendMessage, body: `{"receive_id":"ou_6a59","receive_type":1,"msg_type":"markdown","content":"{\"text\":\"### 这是markdown \\n *好主意* \\n\"}"}`}, nil},
		{"send_message receive_ids", call{path: mind.EndpointSendMessage, body: `{"receive_ids":["on_a","on_b"],"receive_type":1,"msg_type":"text","content":"{\"text\":\"x\"}"}`}, nil},
		{"content type with charset", call{headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: robotBody(t, "text", `{"text":"x"}`)}, nil},
		{"headers spelled as in the seed's curl", call{headers: map[string]string{"APP-ID": s.Config().AppID, "APP-Secret": s.Config().AppSecret, "X-Request-ID": "req-1"}, body: robotBody(t, "text", `{"text":"x"}`)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Reset()
			status, a, err := do(t, s, tc.c)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, answer{Code: 200, Msg: "OK"}, a)
			msgs := s.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, "req-1", msgs[0].RequestID)
			require.Equal(t, s.Config().AppID, msgs[0].Header.Get("app-id"))
			if tc.check != nil {
				tc.check(t, msgs[0])
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestFakeRejects(t *testing.T) {
	cardJSON := validCard(t)
	text := robotBody(t, "text", `{"text":"x"}`)
	for _, tc := range []struct {
		name       string
		c          call
		httpStatus int // with default config
		code       int
		msgHas     string
	}{
		{"GET", call{method: http.MethodGet}, 405, 405, "use POST"},
		{"PUT", call{method: http.MethodPut, body: text}, 405, 405, "POST"},
		{"unknown path", call{path: "/open-platform/api/robot/send/messages", body: text}, 404, 404, "no such API"},
		{"root path", call{path: "/", body: text}, 404, 404, "no such API"},
		{"missing app-id", call{headers: map[string]string{"app-id": ""}, body: text}, 200, 401, "missing app-id"},
		{"missing app-secret", call{headers: map[string]string{"app-secret": ""}, body: text}, 200, 401, "missing app-secret"},
		{"wrong app-secret", call{headers: map[string]string{"app-secret": "nope"}, body: text}, 200, 401, "invalid app-id or app-secret"},
		{"wrong app-id", call{headers: map[string]string{"app-id": "robot_other"}, body: text}, 200, 401, "invalid app-id or app-secret"},
		{"missing x-request-id", call{headers: map[string]string{"x-request-id": ""}, body: text}, 200, 400, "missing x-request-id"},
		{"blank x-request-id", call{headers: map[string]string{"x-request-id": "  "}, body: text}, 200, 400, "missing x-request-id"},
		{"no content type", call{headers: map[string]string{"Content-Type": ""}, body: text}, 200, 400, "not application/json"},
		{"form content type", call{headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: text}, 200, 400, "not application/json"},
		{"empty body", call{body: ""}, 200, 400, "body is empty"},
		{"not JSON", call{body: "receive_open_ids=ou_a"}, 200, 400, "not valid JSON"},
		{"JSON array", call{body: "[]"}, 200, 400, "must be a JSON object"},
		{"truncated JSON", call{body: `{"receive_open_ids":["ou_a"]`}, 200, 400, "not valid JSON"},
		{"trailing data", call{body: text + "{}"}, 200, 400, "after the JSON value"},
		{"unknown field", call{body: `{"receive_open_ids":["ou_a"],"msg_type":"text","content":"{\"text\":\"x\"}","receive_id":"ou_b"}`}, 200, 400, `unknown field "receive_id"`},
		{"field with wrong case", call{body: `{"receive_open_ids":["ou_a"],"MSG_TYPE":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, `unknown field "MSG_TYPE"`},
		{"duplicate field", call{body: `{"receive_open_ids":["ou_a"],"msg_type":"text","msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, "given twice"},
		{"receive_open_ids missing", call{body: `{"msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, "receive_open_ids is required"},
		{"receive_open_ids empty", call{body: `{"receive_open_ids":[],"msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, "receive_open_ids is empty"},
		{"receive_open_ids a string", call{body: `{"receive_open_ids":"ou_a","msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, `"receive_open_ids" must be an array of strings, got a JSON string`},
		{"receive_open_ids blank id", call{body: `{"receive_open_ids":["ou_a",""],"msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, "receive_open_ids[1] is empty"},
		{"msg_type missing", call{body: `{"receive_open_ids":["ou_a"],"content":"{\"text\":\"x\"}"}`}, 200, 400, "msg_type is required"},
		{"msg_type unknown", call{body: robotBody(t, "card", cardJSON)}, 200, 400, `msg_type "card" is not one of`},
		{"msg_type a number", call{body: `{"receive_open_ids":["ou_a"],"msg_type":4,"content":"{\"text\":\"x\"}"}`}, 200, 400, `"msg_type" must be a string, got a JSON number`},
		{"content missing", call{body: `{"receive_open_ids":["ou_a"],"msg_type":"text"}`}, 200, 400, "content is required"},
		{"content an object (seed 001's typo)", call{body: `{"receive_open_ids":["ou_a"],"msg_type":"text","content":{"text":"x"}}`}, 200, 400, `"content" must be a string, got a JSON object`},
		{"text content not JSON", call{body: robotBody(t, "text", "hello")}, 200, 400, `text content must be a JSON string holding {"text":"..."}`},
		{"text content unknown field", call{body: robotBody(t, "text", `{"text":"x","title":"y"}`)}, 200, 400, `unknown field "title"`},
		{"text content empty text", call{body: robotBody(t, "markdown", `{"text":" "}`)}, 200, 400, "markdown content text is empty"},
		{"text content no text", call{body: robotBody(t, "text", `{}`)}, 200, 400, "text content has no text"},
		{"rich_text not an array", call{body: robotBody(t, "rich_text", `{"type":"paragraph"}`)}, 200, 400, "array of nodes"},
		{"rich_text node without type", call{body: robotBody(t, "rich_text", `[{"content":[]}]`)}, 200, 400, "content[0] has no type"},
		{"interactive not JSON", call{body: robotBody(t, "interactive", "触发中")}, 200, 400, "must be a JSON string holding a card"},
		{"interactive unknown card field", call{body: robotBody(t, "interactive", `{"header":{"title":{"content":"x"}},"elements":[{"tag":"markdown","content":"y"}],"footer":{}}`)}, 200, 400, `unknown field "footer"`},
		{"interactive unknown nested field", call{body: robotBody(t, "interactive", `{"header":{"title":{"content":"x"},"colour":"red"},"elements":[{"tag":"markdown","content":"y"}]}`)}, 200, 400, `unknown field "colour"`},
		{"interactive card without header", call{body: robotBody(t, "interactive", `{"elements":[{"tag":"markdown","content":"y"}]}`)}, 200, 400, "card is invalid: card has no header"},
		{"interactive card bad button", call{body: robotBody(t, "interactive", `{"header":{"title":{"content":"x"}},"elements":[{"tag":"action","action":[{"tag":"button","text":{"content":"go"},"type":"view","url":"javascript:alert(1)"}]}]}`)}, 200, 400, "is not an http, https or mind link"},
		{"send_message receive_type missing", call{path: mind.EndpointSendMessage, body: `{"msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, "receive_type is required"},
		{"send_message receive_type 2", call{path: mind.EndpointSendMessage, body: `{"receive_type":2,"msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, "receive_type 2 is not 1"},
		{"send_message receive_type a string", call{path: mind.EndpointSendMessage, body: `{"receive_type":"1","msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, `"receive_type" must be an integer, got a JSON string`},
		{"send_message receive_open_ids", call{path: mind.EndpointSendMessage, body: `{"receive_open_ids":["ou_a"],"receive_type":1,"msg_type":"text","content":"{\"text\":\"x\"}"}`}, 200, 400, `unknown field "receive_open_ids"`},
		{"several problems at once", call{body: `{"receive_open_ids":[],"msg_type":"card"}`}, 200, 400, "receive_open_ids is empty; msg_type \"card\" is not one of text, markdown, rich_text, interactive; content is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, statusErrors := range []bool{false, true} {
				var opts []mindtest.Option
				wantStatus := tc.httpStatus
				if statusErrors {
					opts = append(opts, mindtest.WithHTTPStatusErrors())
					wantStatus = tc.code
				}
				s := mindtest.NewServer(t, opts...)
				status, a, err := do(t, s, tc.c)
				require.NoError(t, err)
				require.Equal(t, wantStatus, status)
				require.Equal(t, tc.code, a.Code)
				require.Contains(t, a.Msg, tc.msgHas)
				require.Empty(t, s.Messages())
				rs := s.Rejections()
				require.Len(t, rs, 1)
				require.Equal(t, tc.code, rs[0].Code)
				require.Equal(t, a.Msg, rs[0].Msg)
			}
		})
	}
}

func TestFakeBodyLimit(t *testing.T) {
	s := mindtest.NewServer(t, mindtest.WithMaxBodyBytes(64))
	status, a, err := do(t, s, call{body: robotBody(t, "text", `{"text":"`+strings.Repeat("x", 100)+`"}`)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 413, a.Code)
	require.Contains(t, a.Msg, "larger than 64 bytes")
}

func TestFakeDedupe(t *testing.T) {
	s := mindtest.NewServer(t, mindtest.WithDedupWindow(100*time.Millisecond))
	body := robotBody(t, "text", `{"text":"x"}`)
	for range 3 {
		status, a, err := do(t, s, call{body: body})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 200, a.Code)
	}
	require.Len(t, s.Messages(), 1)
	require.Equal(t, 3, s.Attempts("req-1"))
	require.Equal(t, 2, s.Duplicates())

	// Another request id is another message.
	_, _, err := do(t, s, call{body: body, headers: map[string]string{"x-request-id": "req-2"}})
	require.NoError(t, err)
	require.Len(t, s.Messages(), 2)

	// A refused request does not reserve its id.
	_, a, err := do(t, s, call{body: `{}`, headers: map[string]string{"x-request-id": "req-3"}})
	require.NoError(t, err)
	require.Equal(t, 400, a.Code)
	_, a, err = do(t, s, call{body: body, headers: map[string]string{"x-request-id": "req-3"}})
	require.NoError(t, err)
	require.Equal(t, 200, a.Code)
	require.Len(t, s.Messages(), 3)

	// After the window, the id is new again.
	time.Sleep(150 * time.Millisecond)
	_, _, err = do(t, s, call{body: body})
	require.NoError(t, err)
	require.Len(t, s.Messages(), 4)
}

func TestFakeFaults(t *testing.T) {
	s := mindtest.NewServer(t)
	body := robotBody(t, "text", `{"text":"x"}`)
	s.Script(
		mindtest.Fault{Status: 503, RetryAfter: "7"},
		mindtest.Fault{Code: "500", Msg: "busy"},
		mindtest.Fault{Status: 502, Body: "<html>bad gateway</html>"},
		mindtest.Fault{Reset: true},
		mindtest.Fault{Delay: 30 * time.Millisecond},
	)

	status, a, err := do(t, s, call{body: body})
	require.NoError(t, err)
	require.Equal(t, 503, status)
	require.Equal(t, 503, a.Code)

	status, a, err = do(t, s, call{body: body})
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, answer{Code: 0, Msg: "busy"}, a, "a string code does not decode into int")

	status, _, err = do(t, s, call{body: body})
	require.NoError(t, err)
	require.Equal(t, 502, status)

	_, _, err = do(t, s, call{body: body})
	require.Error(t, err, "reset connection")

	start := time.Now()
	status, a, err = do(t, s, call{body: body})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	require.Equal(t, 200, status)
	require.Equal(t, 200, a.Code)

	require.Len(t, s.Messages(), 1)
	require.Equal(t, 5, s.Attempts("req-1"))
	require.Equal(t, 5, s.TotalAttempts())
}

func TestFakeFaultStringCode(t *testing.T) {
	s := mindtest.NewServer(t)
	s.Script(mindtest.Fault{Code: "500"})
	req, err := http.NewRequest(http.MethodPost, s.URL+mind.EndpointRobotMessage, strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := s.HTTP.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.JSONEq(t, `{"code":"500","msg":"OK","data":{}}`, string(b))
}

func TestFakeHookAndDown(t *testing.T) {
	s := mindtest.NewServer(t)
	body := robotBody(t, "text", `{"text":"x"}`)
	s.SetHook(func(r *http.Request, attempt int) *mindtest.Fault {
		if attempt <= 2 {
			return &mindtest.Fault{Status: 500}
		}
		return nil
	})
	for i, want := range []int{500, 500, 200} {
		status, _, err := do(t, s, call{body: body})
		require.NoError(t, err, i)
		require.Equal(t, want, status, i)
	}
	s.SetHook(nil)

	s.SetDown(true)
	_, _, err := do(t, s, call{body: body, headers: map[string]string{"x-request-id": "req-2"}})
	require.Error(t, err)
	s.SetDown(false)
	status, _, err := do(t, s, call{body: body, headers: map[string]string{"x-request-id": "req-2"}})
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Len(t, s.Messages(), 2)
	require.Equal(t, 2, s.Attempts("req-2"))
}

func TestFakeWaitForMessages(t *testing.T) {
	s := mindtest.NewServer(t)
	msgs, err := s.WaitForMessages(1, 20*time.Millisecond)
	require.Error(t, err)
	require.Contains(t, err.Error(), "0 of 1 messages")
	require.Empty(t, msgs)

	body := robotBody(t, "text", `{"text":"x"}`)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _, _ = do(t, s, call{body: body})
	}()
	msgs, err = s.WaitForMessages(1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
}

func TestFakeConcurrent(t *testing.T) {
	s := mindtest.NewServer(t)
	s.SetHook(func(r *http.Request, attempt int) *mindtest.Fault {
		if attempt == 1 {
			return &mindtest.Fault{Status: 502}
		}
		return nil
	})
	body := robotBody(t, "text", `{"text":"x"}`)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Go(func() {
			id := map[string]string{"x-request-id": "req-" + string(rune('a'+i))}
			for range 2 {
				if _, _, err := do(t, s, call{body: body, headers: id}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, s.Messages(), 20)
	require.Equal(t, 40, s.TotalAttempts())
}

func TestFakeControlAPI(t *testing.T) {
	s := mindtest.NewServer(t, mindtest.WithControlAPI())
	ctl := func(method, op, body string) (int, string) {
		req, err := http.NewRequest(method, s.URL+mindtest.ControlPrefix+op, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := s.HTTP.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	status, out := ctl(http.MethodPost, "faults", `[{"status":500},{"reset":true},{"delay":"10ms"}]`)
	require.Equal(t, 200, status, out)
	require.JSONEq(t, `{"queued":3}`, out)

	body := robotBody(t, "interactive", validCard(t))
	st, _, err := do(t, s, call{body: body})
	require.NoError(t, err)
	require.Equal(t, 500, st)
	_, _, err = do(t, s, call{body: body})
	require.Error(t, err)
	st, _, err = do(t, s, call{body: body})
	require.NoError(t, err)
	require.Equal(t, 200, st)

	status, out = ctl(http.MethodGet, "messages", "")
	require.Equal(t, 200, status)
	var msgs []mindtest.Message
	require.NoError(t, json.Unmarshal([]byte(out), &msgs))
	require.Len(t, msgs, 1)
	require.Equal(t, "req-1", msgs[0].RequestID)
	require.Equal(t, "interactive", msgs[0].MsgType)
	require.NotNil(t, msgs[0].Card)
	require.NotContains(t, out, s.Config().AppSecret, "the control API does not echo headers")

	status, out = ctl(http.MethodGet, "attempts", "")
	require.Equal(t, 200, status)
	require.JSONEq(t, `{"total":3,"duplicates":0,"by_request_id":{"req-1":3}}`, out)

	status, _ = ctl(http.MethodPost, "down", `{"down":true}`)
	require.Equal(t, 200, status)
	_, _, err = do(t, s, call{body: body})
	require.Error(t, err)
	status, _ = ctl(http.MethodPost, "down", `{"down":false}`)
	require.Equal(t, 200, status)

	status, _ = ctl(http.MethodPost, "reset", "")
	require.Equal(t, 200, status)
	require.Empty(t, s.Messages())
	require.Zero(t, s.TotalAttempts())

	status, _ = ctl(http.MethodGet, "faults", "")
	require.Equal(t, http.StatusMethodNotAllowed, status)
	status, _ = ctl(http.MethodPost, "faults", `[{"stauts":500}]`)
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = ctl(http.MethodGet, "nope", "")
	require.Equal(t, http.StatusNotFound, status)

	// Without the option the control paths are just unknown paths.
	plain := mindtest.NewServer(t)
	st, a, err := do(t, plain, call{method: http.MethodGet, path: mindtest.ControlPrefix + "messages"})
	require.NoError(t, err)
	require.Equal(t, 404, st)
	require.Equal(t, 404, a.Code)
}

// The fake is an http.Handler a plain program can serve.
func TestFakeAsHandler(t *testing.T) {
	var h http.Handler = mindtest.New(mindtest.Config{})
	require.NotNil(t, h)
	f := mindtest.New(mindtest.Config{AppID: "a", AppSecret: "b"})
	require.Equal(t, "a", f.Config().AppID)
	require.Equal(t, mindtest.DefaultDedupWindow, f.Config().DedupWindow)
}

func TestFaultJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want mindtest.Fault
		err  string
	}{
		{`{"delay":"250ms"}`, mindtest.Fault{Delay: 250 * time.Millisecond}, ""},
		{`{"delay":1000}`, mindtest.Fault{Delay: time.Microsecond}, ""},
		{`{"status":429,"retry_after":"2"}`, mindtest.Fault{Status: 429, RetryAfter: "2"}, ""},
		{`{"code":"500"}`, mindtest.Fault{Code: "500"}, ""},
		{`{"delay":"soon"}`, mindtest.Fault{}, "fault delay"},
		{`{"delai":"1s"}`, mindtest.Fault{}, "unknown field"},
	} {
		var f mindtest.Fault
		err := json.Unmarshal([]byte(tc.in), &f)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, f, tc.in)
	}
}
