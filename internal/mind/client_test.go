package mind_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/mind/mindtest"
)

// logBuffer collects log output safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes the JSON log lines.
func (b *logBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type fixture struct {
	fake    *mindtest.Server
	client  *mind.Client
	reg     *prometheus.Registry
	metrics *mind.Metrics
	logger  *slog.Logger
	logs    *logBuffer
}

func newFixture(t *testing.T, opts []mindtest.Option, mutate func(*mind.ClientOptions)) *fixture {
	t.Helper()
	f := &fixture{fake: mindtest.NewServer(t, opts...), reg: prometheus.NewRegistry()}
	f.logger, f.logs = newLogger()
	co := f.fake.ClientOptions()
	co.Timeout = 2 * time.Second
	if mutate != nil {
		mutate(&co)
	}
	c, err := mind.NewClient(co, f.reg, f.logger)
	require.NoError(t, err)
	f.client, f.metrics = c, c.Metrics()
	return f
}

func (f *fixture) requests(endpoint, outcome string) float64 {
	return testutil.ToFloat64(f.metrics.Requests.WithLabelValues(mind.EndpointLabel(endpoint), outcome))
}

func testCard(t testing.TB) string {
	t.Helper()
	c := card.Card{
		Config: &card.Config{EnableForward: true},
		Header: &card.Header{Title: card.Text{Content: "触发中: HighCPU on db-1"}, Template: card.ColorRed},
		Elements: []card.Element{
			card.Markdown("**summary** CPU above 90%"),
			card.Action(
				card.ClickButton("确认", "relay.ack", map[string]any{"card_id": "$card_id", "action": "ack", "token": "t"}),
				card.ViewButton("Alertmanager", "https://am.example/#/alerts"),
			),
		},
	}
	s, err := c.JSON()
	require.NoError(t, err)
	return s
}

func cardRequest(t testing.TB, id string, allSubscribers bool) mind.Request {
	t.Helper()
	req, err := mind.NewCardRequest(id, []string{"ou_aaa", "ou_bbb"}, allSubscribers, testCard(t))
	require.NoError(t, err)
	return req
}

func rawRequest(endpoint, id, body string) mind.Request {
	return mind.Request{Endpoint: endpoint, RequestID: id, Body: json.RawMessage(body)}
}

func requireMindError(t testing.TB, err error, reason mind.Reason, retryable bool) *mind.Error {
	t.Helper()
	require.Error(t, err)
	var me *mind.Error
	require.ErrorAs(t, err, &me)
	require.Equal(t, reason, me.Reason, err.Error())
	require.Equal(t, retryable, me.Retryable, err.Error())
	return me
}

func TestClientSendsToBothEndpoints(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()

	require.NoError(t, f.client.Send(ctx, cardRequest(t, "r-robot", false)))
	require.NoError(t, f.client.Send(ctx, cardRequest(t, "r-all", true)))

	msgs, err := f.fake.WaitForMessages(2, time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 2)

	robot := msgs[0]
	require.Equal(t, mind.EndpointRobotMessage, robot.Endpoint)
	require.Equal(t, "r-robot", robot.RequestID)
	require.Equal(t, []string{"ou_aaa", "ou_bbb"}, robot.Robot.ReceiveOpenIDs)
	require.Equal(t, mind.MsgTypeInteractive, robot.MsgType)
	require.Equal(t, "触发中: HighCPU on db-1", robot.Card.Header.Title.Content)
	require.Equal(t, "relay.ack", robot.Card.Elements[1].Actions[0].Event)
	require.Equal(t, f.fake.Config().AppID, robot.Header.Get("app-id"))
	require.Equal(t, f.fake.Config().AppSecret, robot.Header.Get("app-secret"))
	require.Equal(t, "r-robot", robot.Header.Get("x-request-id"))
	require.Equal(t, "application/json", robot.Header.Get("Content-Type"))

	all := msgs[1]
	require.Equal(t, mind.EndpointSendMessage, all.Endpoint)
	require.Equal(t, mind.ReceiveTypeSubscribers, all.Send.ReceiveType)
	require.Empty(t, all.Send.ReceiveIDs)
	require.NotNil(t, all.Card)

	require.Equal(t, 1.0, f.requests(mind.EndpointRobotMessage, mind.OutcomeSuccess))
	require.Equal(t, 1.0, f.requests(mind.EndpointSendMessage, mind.OutcomeSuccess))
	require.Equal(t, 2, testutil.CollectAndCount(f.metrics.Duration))
	require.Equal(t, 0.0, testutil.ToFloat64(f.metrics.Retries))
}

// The client reports, as rejected and not retryable, what the fake refuses
// like Mind would; in both of the fake's answer styles.
func TestClientAgainstStrictFake(t *testing.T) {
	robot := func(t testing.TB, msgType, content string) string {
		b, err := json.Marshal(mind.RobotMessage{ReceiveOpenIDs: []string{"ou_a"}, MsgType: msgType, Content: content})
		require.NoError(t, err)
		return string(b)
	}
	for _, tc := range []struct {
		name   string
		req    mind.Request
		msgHas string
	}{
		{"unknown field", rawRequest(mind.EndpointRobotMessage, "r", `{"receive_open_ids":["ou_a"],"msg_type":"text","content":"{\"text\":\"x\"}","title":"t"}`), `unknown field \"title\"`},
		{"no receivers", rawRequest(mind.EndpointRobotMessage, "r", `{"receive_open_ids":[],"msg_type":"text","content":"{\"text\":\"x\"}"}`), "receive_open_ids is empty"},
		{"content as object", rawRequest(mind.EndpointRobotMessage, "r", `{"receive_open_ids":["ou_a"],"msg_type":"interactive","content":{"elements":[]}}`), `\"content\" must be a string`},
		{"bad msg_type", rawRequest(mind.EndpointRobotMessage, "r", robot(t, "card", testCard(t))), `msg_type \"card\"`},
		{"card without header", rawRequest(mind.EndpointRobotMessage, "r", robot(t, "interactive", `{"elements":[{"tag":"markdown","content":"x"}]}`)), "card has no header"},
		{"card with unknown field", rawRequest(mind.EndpointRobotMessage, "r", robot(t, "interactive", `{"header":{"title":{"content":"x"}},"elements":[{"tag":"markdown","content":"x","color":"red"}]}`)), `unknown field \"color\"`},
		{"send_message without receive_type", rawRequest(mind.EndpointSendMessage, "r", `{"msg_type":"text","content":"{\"text\":\"x\"}"}`), "receive_type is required"},
		{"unknown endpoint", rawRequest("/open-platform/api/robot/send", "r", `{}`), "no such API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, style := range [][]mindtest.Option{nil, {mindtest.WithHTTPStatusErrors()}} {
				f := newFixture(t, style, nil)
				err := f.client.Send(context.Background(), tc.req)
				me := requireMindError(t, err, mind.ReasonRejected, false)
				require.Contains(t, err.Error(), tc.msgHas)
				require.NotEmpty(t, me.Msg)
				require.Empty(t, f.fake.Messages())
				require.Equal(t, 1.0, f.requests(tc.req.Endpoint, string(mind.ReasonRejected)))
			}
		})
	}
}

func TestClientRefusesBeforeSending(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, req := range []mind.Request{
		rawRequest(mind.EndpointRobotMessage, "", `{}`),
		rawRequest(mind.EndpointRobotMessage, "r", `{not json`),
		rawRequest("https://evil.example/x", "r", `{}`),
	} {
		err := f.client.Send(context.Background(), req)
		requireMindError(t, err, mind.ReasonRejected, false)
	}
	require.Zero(t, f.fake.TotalAttempts())
}

func TestClientBadCredentials(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       []mindtest.Option
		httpStatus int
	}{
		{"HTTP 200 with code 401", nil, 200},
		{"HTTP 401", []mindtest.Option{mindtest.WithHTTPStatusErrors()}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, func(o *mind.ClientOptions) { o.AppSecret = "wrong-secret-value" })
			err := f.client.Send(context.Background(), cardRequest(t, "r1", false))
			me := requireMindError(t, err, mind.ReasonAuth, false)
			require.Equal(t, tc.httpStatus, me.StatusCode)
			require.Equal(t, "401", me.Code)
			require.Contains(t, err.Error(), "bad app credentials")
			require.NotContains(t, err.Error(), "wrong-secret-value")
		})
	}
}

// One attempt per fault, classified.
func TestClientClassifiesFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      mindtest.Fault
		reason     mind.Reason
		retryable  bool
		retryAfter time.Duration
	}{
		{"500", mindtest.Fault{Status: 500}, mind.ReasonHTTP5xx, true, 0},
		{"502 HTML", mindtest.Fault{Status: 502, Body: "<html>502 Bad Gateway</html>"}, mind.ReasonHTTP5xx, true, 0},
		{"503 Retry-After", mindtest.Fault{Status: 503, RetryAfter: "7"}, mind.ReasonHTTP5xx, true, 7 * time.Second},
		{"429 Retry-After", mindtest.Fault{Status: 429, RetryAfter: "3"}, mind.ReasonRateLimited, true, 3 * time.Second},
		{"429 Retry-After date", mindtest.Fault{Status: 429, RetryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, mind.ReasonRateLimited, true, -1},
		{"200 code 429", mindtest.Fault{Code: 429}, mind.ReasonRateLimited, true, 0},
		{"200 code 500 string", mindtest.Fault{Code: "500"}, mind.ReasonCodeTemporary, true, 0},
		{"200 code 400", mindtest.Fault{Code: 400, Msg: "content too long"}, mind.ReasonRejected, false, 0},
		{"200 HTML", mindtest.Fault{Body: "<html>portal</html>"}, mind.ReasonBadResponse, false, 0},
		{"404", mindtest.Fault{Status: 404, Body: "404 page not found"}, mind.ReasonRejected, false, 0},
		{"413", mindtest.Fault{Status: 413}, mind.ReasonRejected, false, 0},
		{"reset", mindtest.Fault{Reset: true}, mind.ReasonNetwork, true, 0},
		{"slow 5xx", mindtest.Fault{Delay: 300 * time.Millisecond, Status: 504}, mind.ReasonTimeout, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, func(o *mind.ClientOptions) { o.Timeout = 100 * time.Millisecond })
			f.fake.Script(tc.fault)
			err := f.client.Send(context.Background(), cardRequest(t, "r1", false))
			me := requireMindError(t, err, tc.reason, tc.retryable)
			switch {
			case tc.retryAfter < 0:
				require.InDelta(t, time.Hour.Seconds(), me.RetryAfter.Seconds(), 5)
			default:
				require.Equal(t, tc.retryAfter, me.RetryAfter)
			}
			retry, _, reason := mind.Classify(err)
			require.Equal(t, tc.retryable, retry)
			require.Equal(t, tc.reason, reason)
			require.Equal(t, 1.0, f.requests(mind.EndpointRobotMessage, string(tc.reason)))
			require.Equal(t, 1, f.fake.Attempts("r1"))
		})
	}
}

func TestClientTimeout(t *testing.T) {
	f := newFixture(t, nil, func(o *mind.ClientOptions) { o.Timeout = 50 * time.Millisecond })
	f.fake.Script(mindtest.Fault{Delay: time.Second, Status: 200})
	start := time.Now()
	err := f.client.Send(context.Background(), cardRequest(t, "r1", false))
	require.Less(t, time.Since(start), 500*time.Millisecond)
	requireMindError(t, err, mind.ReasonTimeout, true)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "no answer from Mind within 50ms")
}

func TestClientServerGone(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.fake.Close()
	err := f.client.Send(context.Background(), cardRequest(t, "r1", false))
	requireMindError(t, err, mind.ReasonNetwork, true)
	require.NotContains(t, err.Error(), f.fake.URL, "errors name the endpoint, not the URL")
	require.Contains(t, err.Error(), "robot_send_message")
}

func TestClientCanceledContext(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.fake.Script(mindtest.Fault{Delay: time.Second, Status: 500})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := f.client.Send(ctx, cardRequest(t, "r1", false))
	requireMindError(t, err, mind.ReasonNetwork, true)
	require.ErrorIs(t, err, context.Canceled)
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	for _, hc := range []*http.Client{nil, redirector.Client()} {
		c, err := mind.NewClient(mind.ClientOptions{BaseURL: redirector.URL, AppID: "a", AppSecret: "s", HTTPClient: hc}, nil, nil)
		require.NoError(t, err)
		err = c.Send(context.Background(), cardRequest(t, "r1", false))
		requireMindError(t, err, mind.ReasonBadResponse, false)
		require.Contains(t, err.Error(), "redirect")
	}
	require.Zero(t, leaked.Load(), "the app-secret must not travel to another host")
}

func TestNewClientOptions(t *testing.T) {
	const secret = "top-secret-app-secret"
	for _, tc := range []struct {
		name string
		opts mind.ClientOptions
		err  string
	}{
		{"ok", mind.ClientOptions{BaseURL: "https://open.mindoffice.cn/", AppID: "a", AppSecret: secret}, ""},
		{"no base url", mind.ClientOptions{AppID: "a", AppSecret: secret}, "mind base_url is empty"},
		{"ftp", mind.ClientOptions{BaseURL: "ftp://open.mindoffice.cn", AppID: "a", AppSecret: secret}, "is not http or https"},
		{"no host", mind.ClientOptions{BaseURL: "https://", AppID: "a", AppSecret: secret}, "has no host"},
		{"user info", mind.ClientOptions{BaseURL: "https://u:" + secret + "@open.mindoffice.cn", AppID: "a", AppSecret: secret}, "carries user info"},
		{"query", mind.ClientOptions{BaseURL: "https://open.mindoffice.cn/?token=x", AppID: "a", AppSecret: secret}, "query or fragment"},
		{"no app id", mind.ClientOptions{BaseURL: "https://open.mindoffice.cn", AppSecret: secret}, "mind app_id is empty"},
		{"no secret", mind.ClientOptions{BaseURL: "https://open.mindoffice.cn", AppID: "a"}, "mind app_secret is empty"},
		{"negative timeout", mind.ClientOptions{BaseURL: "https://open.mindoffice.cn", AppID: "a", AppSecret: secret, Timeout: -time.Second}, "is negative"},
		{"everything wrong", mind.ClientOptions{BaseURL: "mailto:x"}, "mind base_url \"mailto:x\" is not http or https\nmind app_id is empty\nmind app_secret is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mind.NewClient(tc.opts, prometheus.NewRegistry(), nil)
			if tc.err == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tc.err)
			require.NotContains(t, err.Error(), secret)
		})
	}
}

func TestMetricsShared(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1 := mind.NewMetrics(reg)
	m2 := mind.NewMetrics(reg) // a second build must not panic...
	m1.Retries.Inc()
	m2.Retries.Inc()
	require.Equal(t, 2.0, testutil.ToFloat64(m1.Retries), "...and counts in the same series")

	fake := mindtest.NewServer(t)
	// A client rebuilt on reload, against the same registry.
	for range 2 {
		c, err := mind.NewClient(fake.ClientOptions(), reg, nil)
		require.NoError(t, err)
		require.NoError(t, c.Send(context.Background(), cardRequest(t, "r-"+time.Now().String(), false)))
	}
	require.Equal(t, 2.0, testutil.ToFloat64(m1.Requests.WithLabelValues("robot_send_message", "success")))

	// Metrics passed in are used as they are.
	opts := fake.ClientOptions()
	opts.Metrics = m1
	c, err := mind.NewClient(opts, nil, nil)
	require.NoError(t, err)
	require.Same(t, m1, c.Metrics())

	names := map[string]bool{}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	require.Equal(t, map[string]bool{
		"mind_relay_mind_requests_total":           true,
		"mind_relay_mind_request_duration_seconds": true,
		"mind_relay_delivery_retries_total":        true,
	}, names)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mind_relay_delivery_retries_total Times a request to Mind was scheduled to be sent again after a retryable failure.
# TYPE mind_relay_delivery_retries_total counter
mind_relay_delivery_retries_total 2
`), "mind_relay_delivery_retries_total"))
}

// sendUntil sends req as the durable queue does — the same request id at
// every attempt — until Mind accepts it, Classify says a retry cannot help,
// or n attempts are made; it returns the last error.
func sendUntil(ctx context.Context, c *mind.Client, req mind.Request, n int) error {
	var err error
	for range n {
		if err = c.Send(ctx, req); err == nil {
			return nil
		}
		if retry, _, _ := mind.Classify(err); !retry || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// Mind fails a few times, then accepts: each failure is classified and
// counted by its reason, and the resends carry the same request id, so
// the message is recorded once.
func TestClientRetriesAreDeduped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		faults  []mindtest.Fault
		reasons map[mind.Reason]float64
	}{
		{"500 twice", []mindtest.Fault{{Status: 500}, {Status: 500}}, map[mind.Reason]float64{mind.ReasonHTTP5xx: 2}},
		{"502 three times", []mindtest.Fault{{Status: 502, Body: "<html>502</html>"}, {Status: 502}, {Status: 502}}, map[mind.Reason]float64{mind.ReasonHTTP5xx: 3}},
		{"429 with Retry-After", []mindtest.Fault{{Status: 429, RetryAfter: "0"}, {Status: 429, RetryAfter: "1"}}, map[mind.Reason]float64{mind.ReasonRateLimited: 2}},
		{"body code 500 as a string", []mindtest.Fault{{Code: "500", Msg: "busy"}}, map[mind.Reason]float64{mind.ReasonCodeTemporary: 1}},
		// Mind processes the slow requests after the client has given up;
		// the retries carry the same x-request-id and are deduped.
		{"timeouts", []mindtest.Fault{{Delay: 1500 * time.Millisecond}, {Delay: 1500 * time.Millisecond}}, map[mind.Reason]float64{mind.ReasonTimeout: 2}},
		{"slow failures", []mindtest.Fault{{Delay: 1500 * time.Millisecond, Status: 504}}, map[mind.Reason]float64{mind.ReasonTimeout: 1}},
		{"connection resets", []mindtest.Fault{{Reset: true}, {Reset: true}, {Reset: true}}, map[mind.Reason]float64{mind.ReasonNetwork: 3}},
		{"a bit of everything", []mindtest.Fault{{Reset: true}, {Status: 503}, {Status: 429}, {Delay: 1500 * time.Millisecond}}, map[mind.Reason]float64{mind.ReasonNetwork: 1, mind.ReasonHTTP5xx: 1, mind.ReasonRateLimited: 1, mind.ReasonTimeout: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The timeout leaves room for a loaded machine running -race;
			// the slow faults are well beyond it.
			f := newFixture(t, nil, func(o *mind.ClientOptions) { o.Timeout = time.Second })
			f.fake.Script(tc.faults...)
			req := cardRequest(t, "r-"+tc.name, false)

			require.NoError(t, sendUntil(context.Background(), f.client, req, len(tc.faults)+3))

			msgs, err := f.fake.WaitForMessages(1, time.Second)
			require.NoError(t, err)
			for _, fault := range tc.faults {
				if fault.Delay > 0 {
					time.Sleep(600 * time.Millisecond) // let slow handlers finish
					break
				}
			}
			require.Len(t, f.fake.Messages(), 1, "recorded exactly once")
			require.Equal(t, req.RequestID, msgs[0].RequestID)
			require.Equal(t, len(tc.faults)+1, f.fake.Attempts(req.RequestID))
			require.Equal(t, 1.0, f.requests(req.Endpoint, mind.OutcomeSuccess))
			for reason, n := range tc.reasons {
				require.Equal(t, n, f.requests(req.Endpoint, string(reason)), reason)
			}
		})
	}
}

// Bad credentials are a permanent failure: the queue stops at once.
func TestClientBadCredentialsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		opts []mindtest.Option
	}{{nil}, {[]mindtest.Option{mindtest.WithHTTPStatusErrors()}}} {
		f := newFixture(t, tc.opts, func(o *mind.ClientOptions) { o.AppSecret = "not-the-secret-123" })
		req := cardRequest(t, "r1", false)
		err := sendUntil(context.Background(), f.client, req, 5)
		requireMindError(t, err, mind.ReasonAuth, false)
		require.Equal(t, 1, f.fake.Attempts("r1"))
		require.Equal(t, 1, f.fake.TotalAttempts())
		require.Equal(t, 1.0, f.requests(req.Endpoint, string(mind.ReasonAuth)))
		require.NotContains(t, err.Error(), "not-the-secret-123")
		require.NotContains(t, f.logs.String(), "not-the-secret-123")
	}
}

// In the spirit of Alertmanager's AssertNotifyLeaksNoSecret: however a send
// fails, neither the error nor any log line holds the app secret.
func TestSecretNeverLeaks(t *testing.T) {
	const secret = "Sup3r-S3cret-App-Secret"
	for _, tc := range []struct {
		name   string
		fake   []mindtest.Option
		secret string // the client's
		faults []mindtest.Fault
		ctx    func() (context.Context, context.CancelFunc)
	}{
		{name: "bad credentials", secret: secret},
		{name: "bad credentials, HTTP 401", fake: []mindtest.Option{mindtest.WithHTTPStatusErrors()}, secret: secret},
		{name: "Mind echoes the secret in msg", fake: []mindtest.Option{mindtest.WithCredentials("app", secret)}, secret: secret,
			faults: []mindtest.Fault{{Code: 400, Msg: "app-secret " + secret + " may not send"}}},
		{name: "a proxy echoes the secret in a 502 page", fake: []mindtest.Option{mindtest.WithCredentials("app", secret)}, secret: secret,
			faults: []mindtest.Fault{{Status: 502, Body: "<pre>app-secret: " + secret + "</pre>"}, {Status: 502, Body: "<pre>app-secret: " + secret + "</pre>"}}},
		{name: "retryable code echoing the secret", fake: []mindtest.Option{mindtest.WithCredentials("app", secret)}, secret: secret,
			faults: []mindtest.Fault{{Code: secret, Msg: secret}, {Code: 500, Msg: secret}}},
		{name: "connection resets", fake: []mindtest.Option{mindtest.WithCredentials("app", secret)}, secret: secret,
			faults: []mindtest.Fault{{Reset: true}, {Reset: true}}},
		{name: "timeouts", fake: []mindtest.Option{mindtest.WithCredentials("app", secret)}, secret: secret,
			faults: []mindtest.Fault{{Delay: 300 * time.Millisecond, Status: 500}, {Delay: 300 * time.Millisecond, Status: 500}}},
		{name: "canceled", fake: []mindtest.Option{mindtest.WithCredentials("app", secret)}, secret: secret,
			faults: []mindtest.Fault{{Delay: time.Second, Status: 500}},
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(30*time.Millisecond, cancel)
				return ctx, cancel
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fake, func(o *mind.ClientOptions) {
				o.AppID = "app"
				o.AppSecret = tc.secret
				o.Timeout = 100 * time.Millisecond
			})
			f.fake.Script(tc.faults...)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			err := sendUntil(ctx, f.client, cardRequest(t, "r1", false), 2)
			require.Error(t, err)
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, f.logs.String(), secret)
			var me *mind.Error
			require.ErrorAs(t, err, &me)
			require.NotContains(t, me.Msg, secret)
			require.NotContains(t, me.Code, secret)
			require.NotContains(t, f.logs.String(), `"`+secret)
		})
	}
}

func TestDryRun(t *testing.T) {
	logger, logs := newLogger()
	d := mind.NewDryRun(logger)
	req := cardRequest(t, "r-dry", false)
	require.NoError(t, d.Send(context.Background(), req))
	require.NoError(t, d.Send(context.Background(), rawRequest(mind.EndpointRobotMessage, "r-bad", "{not json")))

	require.Equal(t, 2, strings.Count(logs.String(), "\n"), "one line per request")
	lines := logs.lines(t)
	require.Len(t, lines, 2)
	l := lines[0]
	require.Equal(t, mind.DryRunMessage, l["msg"])
	require.Equal(t, "INFO", l["level"])
	require.Equal(t, mind.EndpointRobotMessage, l["endpoint"])
	require.Equal(t, "r-dry", l["request_id"])
	body, ok := l["body"].(map[string]any)
	require.True(t, ok, "body is a JSON object, not an escaped string: %T", l["body"])
	require.Equal(t, "interactive", body["msg_type"])
	require.Equal(t, []any{"ou_aaa", "ou_bbb"}, body["receive_open_ids"])
	var c card.Card
	require.NoError(t, json.Unmarshal([]byte(body["content"].(string)), &c))
	require.Equal(t, "触发中: HighCPU on db-1", c.Header.Title.Content)

	require.Equal(t, "{not json", lines[1]["body"], "an invalid body is still logged, as a string")

	require.NoError(t, mind.NewDryRun(nil).Send(context.Background(), req))
}

// SetupFault tells a fault of the relay's setup (credentials Mind refuses,
// a base_url that is not Mind) from a notification's own failure, for
// answers the fake Mind gives on demand.
func TestSetupFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []mindtest.Option
		fail   func(f *mindtest.Server)
		reason mind.Reason // "" when not a setup fault
	}{
		{"secret rotated on Mind's side (HTTP 200, code 401)", nil,
			func(f *mindtest.Server) { f.SetCredentials(mindtest.DefaultAppID, "rotated-secret-2") }, mind.ReasonAuth},
		{"secret rotated on Mind's side (HTTP 401)", []mindtest.Option{mindtest.WithHTTPStatusErrors()},
			func(f *mindtest.Server) { f.SetCredentials(mindtest.DefaultAppID, "rotated-secret-2") }, mind.ReasonAuth},
		{"HTTP 403", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Status: 403}) }, mind.ReasonAuth},
		{"code 403", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Code: 403}) }, mind.ReasonAuth},
		{"proxy's 2xx HTML maintenance page", nil, func(f *mindtest.Server) {
			f.Script(mindtest.Fault{Status: 200, Body: "<html><body>Down for maintenance</body></html>"})
		}, mind.ReasonBadResponse},
		{"redirect to a login page", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Status: 302, Body: "see /login"}) }, mind.ReasonBadResponse},
		{"5xx is Mind's trouble, retried", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Status: 503}) }, ""},
		{"rate limited", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Status: 429}) }, ""},
		{"content refused: this notification's fault", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Code: 400}) }, ""},
		{"connection reset", nil, func(f *mindtest.Server) { f.Script(mindtest.Fault{Reset: true}) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, nil)
			require.NoError(t, f.client.Send(context.Background(), cardRequest(t, "r0", false)))
			tc.fail(f.fake)
			err := f.client.Send(context.Background(), cardRequest(t, "r1", false))
			require.Error(t, err)
			reason, ok := mind.SetupFault(err)
			require.Equal(t, tc.reason != "", ok, "%v", err)
			require.Equal(t, tc.reason, reason)
			require.NotContains(t, err.Error(), "rotated-secret-2")
		})
	}
	_, ok := mind.SetupFault(errors.New("not a mind error"))
	require.False(t, ok)
	_, ok = mind.SetupFault(nil)
	require.False(t, ok)
}
