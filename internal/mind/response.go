package mind

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// How Mind's answer is judged.
//
// Mind documents a single answer shape, {"code":200,"msg":"OK","data":{}},
// with code sometimes a number and sometimes a string ("200"), and says only
// "200: success, anything else: failure". It documents no failure codes and
// no HTTP statuses. The rules below are therefore our decision; they follow
// Alertmanager's (2xx is success, 5xx is retried, other 4xx are not) and are
// tested row by row in response_test.go.
//
//	HTTP status       body                         outcome          retried
//	2xx               code 200 (number or string)  success          -
//	2xx               code 401 or 403              auth             no
//	2xx               code 429                     rate_limited     yes
//	2xx               other code in 400-499        rejected         no
//	2xx               any other code (5xx, 0,      code_temporary   yes
//	                  10001, "busy", ...)
//	2xx               not JSON, no code, null code bad_response     no
//	401, 403          anything                     auth             no
//	408               anything                     timeout          yes
//	429               anything                     rate_limited     yes
//	other 4xx         code 401/403                 auth             no
//	other 4xx         code 429                     rate_limited     yes
//	other 4xx         anything else                rejected         no
//	5xx               anything                     http_5xx         yes
//	1xx, 3xx, other   anything                     bad_response     no
//
// Why a 2xx answer that is not Mind's JSON is not retried: it means the
// base_url does not point at Mind (a portal page, a proxy's login form), and
// no retry will change that; the notification is dead-lettered with a clear
// reason instead of hammering the wrong server for hours. A body cut short
// by the network is a read error, not this case, and is retried. Redirects
// are never followed (the app-secret would travel to the new host) and count
// as bad_response for the same reason.
//
// auth and bad_response are not retried as the notification's own failure:
// they are faults of the relay's setup (SetupFault), on which the durable
// queue pauses every send and keeps the notifications.
//
// For every retryable outcome a Retry-After header (seconds or an HTTP-date)
// is kept in Error.RetryAfter.

// codeRule classifies a range of codes (HTTP statuses or body codes).
type codeRule struct {
	lo, hi    int
	reason    Reason
	retryable bool
}

// bodyCodeRules classify a non-200 body code; the first match wins, and a
// code that matches none (or is not a number) is code_temporary, retried.
var bodyCodeRules = []codeRule{
	{401, 401, ReasonAuth, false},
	{403, 403, ReasonAuth, false},
	{429, 429, ReasonRateLimited, true},
	{400, 499, ReasonRejected, false},
}

// statusRules classify a non-2xx HTTP status; the first match wins, and a
// status that matches none is bad_response, not retried.
var statusRules = []codeRule{
	{401, 401, ReasonAuth, false},
	{403, 403, ReasonAuth, false},
	{408, 408, ReasonTimeout, true},
	{429, 429, ReasonRateLimited, true},
	{400, 499, ReasonRejected, false},
	{500, 599, ReasonHTTP5xx, true},
}

func lookup(rules []codeRule, code int) (codeRule, bool) {
	for _, r := range rules {
		if code >= r.lo && code <= r.hi {
			return r, true
		}
	}
	return codeRule{}, false
}

const (
	// maxResponseBytes caps how much of an answer is read; Mind's answers
	// are a few dozen bytes.
	maxResponseBytes = 64 << 10
	// maxMsgRunes caps Mind's msg as kept in an Error.
	maxMsgRunes = 256
	// maxSnippetBytes caps how much of a non-JSON body an error quotes.
	maxSnippetBytes = 200
	// maxRetryAfter caps a Retry-After header before Backoff caps it again.
	maxRetryAfter = 24 * time.Hour
)

var errBadCredentials = errors.New("bad app credentials, refused by Mind: check mind.app_id and mind.app_secret")

// response is what came back from Mind, read in full (up to a cap).
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// answer is Mind's documented body, parsed leniently.
type answer struct {
	json    bool   // the body is a JSON object
	hasCode bool   // it has a non-null code
	code    string // the code as sent, without quotes
	num     int    // the code as a number, when numOK
	numOK   bool
	msg     string
}

func parseAnswer(body []byte) answer {
	var raw struct {
		Code json.RawMessage `json:"code"`
		Msg  json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return answer{}
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return answer{}
	}
	a := answer{json: true, msg: rawText(raw.Msg)}
	code := bytes.TrimSpace(raw.Code)
	if len(code) == 0 || string(code) == "null" {
		return a
	}
	a.hasCode = true
	if code[0] == '"' {
		var s string
		if json.Unmarshal(code, &s) == nil {
			a.code = strings.TrimSpace(s)
		}
	} else {
		a.code = string(code)
	}
	a.num, a.numOK = parseCode(a.code)
	return a
}

// parseCode reads "200", "200.0" or "2e2" as 200; anything else is not a
// number.
func parseCode(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// rawText renders a JSON value as text: a string unquoted, anything else
// as its compact JSON.
func rawText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

// check applies the rules above: nil for success, else the *Error to
// return. redact removes secrets from anything Mind sent back.
func (r response) check(now time.Time, redact func(string) string) *Error {
	a := parseAnswer(r.Body)
	e := &Error{StatusCode: r.Status, Code: redact(truncate(a.code, 32)), Msg: redact(truncate(a.msg, maxMsgRunes))}

	var rule codeRule
	switch {
	case r.Status >= 200 && r.Status <= 299:
		switch {
		case !a.json:
			rule = codeRule{reason: ReasonBadResponse}
			e.Err = fmt.Errorf("answer is not Mind's JSON: %s", redact(snippet(r.Body)))
		case !a.hasCode:
			rule = codeRule{reason: ReasonBadResponse}
			e.Err = errors.New("answer has no code")
		case a.numOK && a.num == 200:
			return nil
		default:
			var ok bool
			if rule, ok = lookup(bodyCodeRules, a.num); !ok || !a.numOK {
				rule = codeRule{reason: ReasonCodeTemporary, retryable: true}
			}
		}
	default:
		var ok bool
		if rule, ok = lookup(statusRules, r.Status); !ok {
			rule = codeRule{reason: ReasonBadResponse}
			if r.Status >= 300 && r.Status <= 399 {
				e.Err = errors.New("redirect not followed: check mind.base_url")
			}
		}
		if rule.reason == ReasonRejected && a.numOK {
			if br, ok := lookup(bodyCodeRules, a.num); ok && (br.reason == ReasonAuth || br.reason == ReasonRateLimited) {
				rule = br
			}
		}
		if !a.json && len(bytes.TrimSpace(r.Body)) > 0 && e.Err == nil {
			e.Err = fmt.Errorf("body: %s", redact(snippet(r.Body)))
		}
	}
	e.Reason, e.Retryable = rule.reason, rule.retryable
	if e.Reason == ReasonAuth {
		e.Err = errBadCredentials
	}
	if e.Retryable {
		e.RetryAfter = parseRetryAfter(r.Header.Get("Retry-After"), now)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date. Anything unreadable, negative or past is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// snippet is the start of a body, on one line, for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "(empty)"
	}
	if len(s) <= maxSnippetBytes {
		return s
	}
	cut := maxSnippetBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func truncate(s string, runes int) string {
	if utf8.RuneCountInString(s) <= runes {
		return s
	}
	return string([]rune(s)[:runes]) + "…"
}
