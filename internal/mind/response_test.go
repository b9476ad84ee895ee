package mind

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestResponseRules is the rule table of response.go, row by row.
func TestResponseRules(t *testing.T) {
	now := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd.Set(kv[i], kv[i+1])
		}
		return hd
	}
	type want struct {
		ok         bool
		reason     Reason
		retry      bool
		code       string
		msg        string
		retryAfter time.Duration
		errHas     string
	}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		want   want
	}{
		// Success: 2xx and code 200, as a number or a string.
		{"200 code 200 number", 200, nil, `{"code":200,"msg":"OK","data":{}}`, want{ok: true}},
		{"200 code 200 string", 200, nil, `{"code":"200","msg":"OK","data":{}}`, want{ok: true}},
		{"200 code 200 string with spaces", 200, nil, `{"code":" 200 ","msg":"OK"}`, want{ok: true}},
		{"200 code 200.0", 200, nil, `{"code":200.0}`, want{ok: true}},
		{"201 code 200", 201, nil, `{"code":200}`, want{ok: true}},
		{"200 code 200 no data", 200, nil, `{"code":200}`, want{ok: true}},

		// 2xx with a non-200 body code.
		{"200 code 401", 200, nil, `{"code":401,"msg":"invalid app"}`, want{reason: ReasonAuth, code: "401", msg: "invalid app", errHas: "app_secret"}},
		{"200 code 401 string", 200, nil, `{"code":"401","msg":"invalid app"}`, want{reason: ReasonAuth, code: "401", msg: "invalid app"}},
		{"200 code 403", 200, nil, `{"code":403,"msg":"no permission"}`, want{reason: ReasonAuth, code: "403", msg: "no permission"}},
		{"200 code 400", 200, nil, `{"code":400,"msg":"bad content"}`, want{reason: ReasonRejected, code: "400", msg: "bad content"}},
		{"200 code 400 string", 200, nil, `{"code":"400","msg":"bad content"}`, want{reason: ReasonRejected, code: "400", msg: "bad content"}},
		{"200 code 404", 200, nil, `{"code":404}`, want{reason: ReasonRejected, code: "404"}},
		{"200 code 413", 200, nil, `{"code":413}`, want{reason: ReasonRejected, code: "413"}},
		{"200 code 422", 200, nil, `{"code":422}`, want{reason: ReasonRejected, code: "422"}},
		{"200 code 499", 200, nil, `{"code":499}`, want{reason: ReasonRejected, code: "499"}},
		{"200 code 429", 200, nil, `{"code":429,"msg":"too many"}`, want{reason: ReasonRateLimited, retry: true, code: "429", msg: "too many"}},
		{"200 code 429 Retry-After", 200, h("Retry-After", "3"), `{"code":"429"}`, want{reason: ReasonRateLimited, retry: true, code: "429", retryAfter: 3 * time.Second}},
		{"200 code 500", 200, nil, `{"code":500,"msg":"internal"}`, want{reason: ReasonCodeTemporary, retry: true, code: "500", msg: "internal"}},
		{"200 code 503 string", 200, nil, `{"code":"503"}`, want{reason: ReasonCodeTemporary, retry: true, code: "503"}},
		{"200 code 0", 200, nil, `{"code":0}`, want{reason: ReasonCodeTemporary, retry: true, code: "0"}},
		{"200 code 10001", 200, nil, `{"code":10001,"msg":"busy"}`, want{reason: ReasonCodeTemporary, retry: true, code: "10001", msg: "busy"}},
		{"200 code not a number", 200, nil, `{"code":"ERR_BUSY"}`, want{reason: ReasonCodeTemporary, retry: true, code: "ERR_BUSY"}},
		{"200 code 401.5", 200, nil, `{"code":401.5}`, want{reason: ReasonCodeTemporary, retry: true, code: "401.5"}},
		{"200 msg not a string", 200, nil, `{"code":400,"msg":{"field":"content"}}`, want{reason: ReasonRejected, code: "400", msg: `{"field":"content"}`}},

		// 2xx that is not Mind's JSON.
		{"200 HTML", 200, nil, "<html><body>Welcome</body></html>", want{reason: ReasonBadResponse, errHas: "<html><body>Welcome</body></html>"}},
		{"200 empty", 200, nil, "", want{reason: ReasonBadResponse, errHas: "(empty)"}},
		{"204 empty", 204, nil, "", want{reason: ReasonBadResponse}},
		{"200 JSON array", 200, nil, `[{"code":200}]`, want{reason: ReasonBadResponse}},
		{"200 JSON null", 200, nil, `null`, want{reason: ReasonBadResponse}},
		{"200 no code", 200, nil, `{"msg":"OK"}`, want{reason: ReasonBadResponse, msg: "OK", errHas: "no code"}},
		{"200 null code", 200, nil, `{"code":null}`, want{reason: ReasonBadResponse}},
		{"200 truncated JSON", 200, nil, `{"code":20`, want{reason: ReasonBadResponse}},

		// HTTP statuses.
		{"401", 401, nil, `{"code":401,"msg":"unauthorized"}`, want{reason: ReasonAuth, code: "401", msg: "unauthorized", errHas: "app_id"}},
		{"401 no body", 401, nil, "", want{reason: ReasonAuth}},
		{"403", 403, nil, "Forbidden", want{reason: ReasonAuth}},
		{"400", 400, nil, `{"code":400,"msg":"msg_type is required"}`, want{reason: ReasonRejected, code: "400", msg: "msg_type is required"}},
		{"400 body code 401", 400, nil, `{"code":401}`, want{reason: ReasonAuth, code: "401"}},
		{"400 body code 429", 400, nil, `{"code":429}`, want{reason: ReasonRateLimited, retry: true, code: "429"}},
		{"404", 404, nil, "404 page not found", want{reason: ReasonRejected, errHas: "404 page not found"}},
		{"405", 405, nil, "", want{reason: ReasonRejected}},
		{"408", 408, nil, "", want{reason: ReasonTimeout, retry: true}},
		{"413", 413, nil, "<html>Request Entity Too Large</html>", want{reason: ReasonRejected}},
		{"415", 415, nil, "", want{reason: ReasonRejected}},
		{"422", 422, nil, `{"code":"422"}`, want{reason: ReasonRejected, code: "422"}},
		{"429", 429, nil, "", want{reason: ReasonRateLimited, retry: true}},
		{"429 Retry-After seconds", 429, h("Retry-After", "120"), "", want{reason: ReasonRateLimited, retry: true, retryAfter: 2 * time.Minute}},
		{"429 Retry-After HTTP-date", 429, h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), "", want{reason: ReasonRateLimited, retry: true, retryAfter: 90 * time.Second}},
		{"429 Retry-After date past", 429, h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), "", want{reason: ReasonRateLimited, retry: true}},
		{"429 Retry-After negative", 429, h("Retry-After", "-5"), "", want{reason: ReasonRateLimited, retry: true}},
		{"429 Retry-After garbage", 429, h("Retry-After", "soon"), "", want{reason: ReasonRateLimited, retry: true}},
		{"429 Retry-After huge", 429, h("Retry-After", "99999999999999"), "", want{reason: ReasonRateLimited, retry: true, retryAfter: maxRetryAfter}},
		{"500", 500, nil, `{"code":500,"msg":"internal error"}`, want{reason: ReasonHTTP5xx, retry: true, code: "500", msg: "internal error"}},
		{"500 body code 400", 500, nil, `{"code":400}`, want{reason: ReasonHTTP5xx, retry: true, code: "400"}},
		{"502 HTML", 502, nil, "<html><head><title>502 Bad Gateway</title></head></html>", want{reason: ReasonHTTP5xx, retry: true, errHas: "502 Bad Gateway"}},
		{"503 Retry-After", 503, h("Retry-After", "7"), "", want{reason: ReasonHTTP5xx, retry: true, retryAfter: 7 * time.Second}},
		{"504", 504, nil, "", want{reason: ReasonHTTP5xx, retry: true}},
		{"599", 599, nil, "", want{reason: ReasonHTTP5xx, retry: true}},
		{"301", 301, h("Location", "https://elsewhere.example/"), "", want{reason: ReasonBadResponse, errHas: "redirect"}},
		{"302", 302, nil, "", want{reason: ReasonBadResponse, errHas: "base_url"}},
		{"307", 307, nil, "", want{reason: ReasonBadResponse}},
		{"permanent ignores Retry-After", 400, h("Retry-After", "5"), "", want{reason: ReasonRejected}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == nil {
				header = http.Header{}
			}
			e := response{Status: tc.status, Header: header, Body: []byte(tc.body)}.check(now, func(s string) string { return s })
			if tc.want.ok {
				require.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			require.Equal(t, tc.want.reason, e.Reason, e.Error())
			require.Equal(t, tc.want.retry, e.Retryable, "retryable")
			require.Equal(t, tc.status, e.StatusCode)
			require.Equal(t, tc.want.code, e.Code)
			require.Equal(t, tc.want.msg, e.Msg)
			require.Equal(t, tc.want.retryAfter, e.RetryAfter)
			if tc.want.errHas != "" {
				require.Contains(t, e.Error(), tc.want.errHas)
			}

			retry, after, reason := Classify(e)
			require.Equal(t, tc.want.retry, retry)
			require.Equal(t, tc.want.retryAfter, after)
			require.Equal(t, tc.want.reason, reason)
		})
	}
}

func TestResponseRedactsAndTruncates(t *testing.T) {
	secret := "s3cr3t-value"
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "<secret>") }

	e := response{Status: 200, Header: http.Header{}, Body: []byte(`{"code":401,"msg":"app-secret s3cr3t-value is wrong"}`)}.check(time.Now(), redact)
	require.NotContains(t, e.Error(), secret)
	require.Contains(t, e.Msg, "<secret>")

	e = response{Status: 502, Header: http.Header{}, Body: []byte("proxy saw app-secret: s3cr3t-value")}.check(time.Now(), redact)
	require.NotContains(t, e.Error(), secret)

	long := strings.Repeat("界", 1000)
	e = response{Status: 200, Header: http.Header{}, Body: []byte(`{"code":400,"msg":"` + long + `"}`)}.check(time.Now(), redact)
	require.Equal(t, maxMsgRunes+1, len([]rune(e.Msg)))

	e = response{Status: 500, Header: http.Header{}, Body: []byte(long)}.check(time.Now(), redact)
	require.Less(t, len(e.Error()), 400)
}

func TestBackoffNext(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0}
	for _, tc := range []struct {
		name       string
		b          Backoff
		attempt    int
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first", b, 1, 0, 100 * time.Millisecond},
		{"second", b, 2, 0, 200 * time.Millisecond},
		{"third", b, 3, 0, 400 * time.Millisecond},
		{"capped", b, 5, 0, time.Second},
		{"huge attempt stays capped", b, 10000, 0, time.Second},
		{"attempt 0 is the first", b, 0, 0, 100 * time.Millisecond},
		{"negative attempt is the first", b, -3, 0, 100 * time.Millisecond},
		{"Retry-After is a floor", b, 1, 700 * time.Millisecond, 700 * time.Millisecond},
		{"shorter Retry-After changes nothing", b, 3, 10 * time.Millisecond, 400 * time.Millisecond},
		{"Retry-After capped at Max", b, 1, time.Hour, time.Second},
		{"multiplier below 1 is 1", Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 0.5}, 4, 0, 100 * time.Millisecond},
		{"zero value waits nothing", Backoff{Jitter: -1}, 2, 300 * time.Millisecond, 0},
		{"Max below Initial is Initial", Backoff{Initial: 100 * time.Millisecond, Multiplier: 2}, 3, 0, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.b.Next(tc.attempt, tc.retryAfter))
		})
	}
}

func TestBackoffJitter(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := b.Next(2, 0)
		require.GreaterOrEqual(t, d, 100*time.Millisecond)
		require.LessOrEqual(t, d, 200*time.Millisecond)
		seen[d] = true
		// Jitter never breaks the Retry-After floor or the cap.
		require.Equal(t, 150*time.Millisecond, b.Next(1, 150*time.Millisecond))
		require.LessOrEqual(t, b.Next(50, 0), time.Second)
	}
	require.Greater(t, len(seen), 10, "jitter should spread the waits")
}
