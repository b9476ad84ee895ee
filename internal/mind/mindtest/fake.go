// Package mindtest is a fake Mind open platform for tests across the relay:
// as strict as the seeds about what it accepts, able to fail on demand, and
// recording what it accepted.
//
// The fake answers like this (where the seeds say nothing, the choice is
// ours and is marked so):
//
//   - Not POST: HTTP 405; a path other than the two send endpoints: HTTP 404.
//     These are the web server's answers, before Mind's application sees the
//     request, so they always use the HTTP status (and a body code alike).
//   - Everything Mind's application refuses (credentials, headers, body) is
//     answered, by default, with HTTP 200 and a body code: 401 for missing or
//     wrong app-id/app-secret, 413 for an oversized body, 400 for the rest,
//     with a msg saying what is wrong. The seeds document failure only as
//     "code other than 200", so HTTP 200 with a failure code is the case a
//     client must not mistake for success. Config.HTTPStatusErrors answers
//     with the HTTP status equal to the code instead, the other way a real
//     gateway might; the client must handle both.
//   - A request with an x-request-id the fake already accepted within
//     Config.DedupWindow is answered as a success but not recorded again:
//     "x-request-id 短时间内幂等" (seed 000).
//
// New builds the fake as an http.Handler, usable from a plain program (a
// kill test can run it as a process, with Config.ControlAPI to drive it over
// HTTP); NewServer wraps it in an httptest.Server for a test.
package mindtest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mindoffice/mind-relay/internal/card"
	"github.com/mindoffice/mind-relay/internal/mind"
)

// Defaults of Config.
const (
	DefaultAppID        = "robot_mindtest"
	DefaultAppSecret    = "mindtest-app-secret-7f3c9a"
	DefaultDedupWindow  = 5 * time.Minute
	DefaultMaxBodyBytes = 1 << 20
)

// ControlPrefix is the path under which Config.ControlAPI serves the fake's
// own API (see ServeHTTP).
const ControlPrefix = "/_mindtest/"

// Message types Mind accepts (seeds 000 and 001).
var msgTypes = []string{"text", "markdown", "rich_text", "interactive"}

// Config configures a Fake. Zero fields take the defaults above.
type Config struct {
	AppID     string
	AppSecret string
	// HTTPStatusErrors answers application-level refusals with an HTTP
	// status equal to the body code instead of HTTP 200.
	HTTPStatusErrors bool
	// DedupWindow is how long an accepted x-request-id is remembered.
	DedupWindow time.Duration
	// MaxBodyBytes caps request bodies (answered with code 413).
	MaxBodyBytes int64
	// ControlAPI serves the fake's control API under ControlPrefix.
	ControlAPI bool
	// Logger, when set, gets one line per refused request.
	Logger *slog.Logger
}

// Fault is a scripted answer. Reset closes the connection without an
// answer (after Delay). Otherwise, a Fault with only Delay set slows Mind
// down and then handles the request as usual (even if the client has given
// up, as a real server would: that is the case x-request-id dedupe is for);
// any other Fault answers HTTP Status (200 when 0) after Delay, with
// Retry-After when set, and Body verbatim, or else {"code":Code,"msg":Msg}
// where Code defaults to Status (a number, or a string such as "500").
type Fault struct {
	Status     int           `json:"status,omitempty"`
	Code       any           `json:"code,omitempty"`
	Msg        string        `json:"msg,omitempty"`
	Body       string        `json:"body,omitempty"`
	RetryAfter string        `json:"retry_after,omitempty"`
	Delay      time.Duration `json:"delay,omitempty"`
	Reset      bool          `json:"reset,omitempty"`
}

// UnmarshalJSON accepts delay as a duration string ("250ms") or
// nanoseconds.
func (f *Fault) UnmarshalJSON(b []byte) error {
	type plain Fault
	var v struct {
		*plain
		Delay json.RawMessage `json:"delay,omitempty"`
	}
	v.plain = (*plain)(f)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	f.Delay = 0
	if len(v.Delay) == 0 || string(v.Delay) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(v.Delay, &s) == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fault delay: %w", err)
		}
		f.Delay = d
		return nil
	}
	var ns int64
	if err := json.Unmarshal(v.Delay, &ns); err != nil {
		return fmt.Errorf("fault delay %s is neither a duration string nor nanoseconds", v.Delay)
	}
	f.Delay = time.Duration(ns)
	return nil
}

func (f Fault) passThrough() bool {
	return !f.Reset && f.Status == 0 && f.Code == nil && f.Msg == "" && f.Body == "" && f.RetryAfter == ""
}

// Hook decides the fate of a request before the fake checks it: nil lets
// it through, a Fault answers it. attempt counts the requests with this
// request's x-request-id, this one included.
type Hook func(r *http.Request, attempt int) *Fault

// Message is a request the fake accepted.
type Message struct {
	Endpoint  string          `json:"endpoint"`
	RequestID string          `json:"request_id"`
	Header    http.Header     `json:"-"`
	Body      json.RawMessage `json:"body"`
	// Robot is the body of mind.EndpointRobotMessage, Send that of
	// mind.EndpointSendMessage.
	Robot *mind.RobotMessage `json:"robot,omitempty"`
	Send  *mind.SendMessage  `json:"send,omitempty"`
	// MsgType and Content are the body's; Text is content's text for text
	// and markdown messages, Card the decoded card of interactive ones.
	MsgType    string     `json:"msg_type"`
	Content    string     `json:"content"`
	Text       string     `json:"text,omitempty"`
	Card       *card.Card `json:"card,omitempty"`
	ReceivedAt time.Time  `json:"received_at"`
}

// Rejection is a request the fake refused.
type Rejection struct {
	Endpoint   string `json:"endpoint"`
	RequestID  string `json:"request_id"`
	HTTPStatus int    `json:"http_status"`
	Code       int    `json:"code"`
	Msg        string `json:"msg"`
}

// Fake is a strict, scriptable Mind. It is an http.Handler and safe for
// concurrent use.
type Fake struct {
	cfg Config

	mu         sync.Mutex
	down       bool
	faults     []Fault
	hook       Hook
	attempts   map[string]int
	total      int
	accepted   map[string]time.Time // request id → first accepted
	duplicates int
	messages   []Message
	rejections []Rejection
	changed    chan struct{} // closed and replaced when messages change
}

// New builds a Fake.
func New(cfg Config) *Fake {
	if cfg.AppID == "" {
		cfg.AppID = DefaultAppID
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = DefaultAppSecret
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Fake{
		cfg:      cfg,
		attempts: map[string]int{},
		accepted: map[string]time.Time{},
		changed:  make(chan struct{}),
	}
}

// Config returns the fake's configuration, defaults filled in.
func (f *Fake) Config() Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

// Script queues faults for the next requests, one each, in order.
func (f *Fake) Script(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// SetHook sets (or, with nil, removes) the hook consulted for every request
// no scripted fault answered.
func (f *Fake) SetHook(h Hook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// SetCredentials changes the app-id and app-secret the fake accepts from
// now on, as a secret rotated on Mind's side would: a client still sending
// the old ones is refused like any bad credentials.
func (f *Fake) SetCredentials(appID, appSecret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg.AppID, f.cfg.AppSecret = appID, appSecret
}

// SetDown makes every request fail with a reset connection, as if Mind
// were unreachable, until SetDown(false).
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Messages returns the accepted messages, in order of arrival.
func (f *Fake) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.messages)
}

// WaitForMessages waits until at least n messages were accepted, and
// returns them all; after timeout it returns what it has and an error.
func (f *Fake) WaitForMessages(n int, timeout time.Duration) ([]Message, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		f.mu.Lock()
		msgs, ch := slices.Clone(f.messages), f.changed
		f.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return msgs, fmt.Errorf("mindtest: %d of %d messages after %s", len(msgs), n, timeout)
		}
	}
}

// Attempts is how many requests carried requestID, whatever their fate.
func (f *Fake) Attempts(requestID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[requestID]
}

// TotalAttempts is how many requests reached the fake's endpoints.
func (f *Fake) TotalAttempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// Duplicates is how many valid requests were answered as already accepted.
func (f *Fake) Duplicates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.duplicates
}

// Rejections returns the refused requests, in order.
func (f *Fake) Rejections() []Rejection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rejections)
}

// Reset forgets everything: messages, attempts, dedupe, faults, hook, down.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.faults, f.hook = false, nil, nil
	f.attempts, f.total, f.accepted, f.duplicates = map[string]int{}, 0, map[string]time.Time{}, 0
	f.messages, f.rejections = nil, nil
	close(f.changed)
	f.changed = make(chan struct{})
}

// ServeHTTP answers like Mind. With Config.ControlAPI, paths under
// ControlPrefix drive the fake instead: GET messages, GET rejections,
// GET attempts ({"total":n,"by_request_id":{...}}), POST faults (a JSON
// array of Fault), POST down ({"down":true}), POST reset.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.cfg.ControlAPI && strings.HasPrefix(r.URL.Path, ControlPrefix) {
		f.control(w, r)
		return
	}
	// Read the body first: a slow fault may handle the request after the
	// client has gone.
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, f.cfg.MaxBodyBytes))
	reqID := r.Header.Get("x-request-id")

	f.mu.Lock()
	f.total++
	f.attempts[reqID]++
	attempt := f.attempts[reqID]
	down := f.down
	var fault *Fault
	if len(f.faults) > 0 {
		fault = &f.faults[0]
		f.faults = f.faults[1:]
	}
	hook := f.hook
	f.mu.Unlock()

	if down {
		resetConn(w)
		return
	}
	if fault == nil && hook != nil {
		fault = hook(r, attempt)
	}
	if fault != nil {
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		switch {
		case fault.Reset:
			resetConn(w)
			return
		case !fault.passThrough():
			writeFault(w, *fault)
			return
		}
	}
	f.handle(w, r, body, readErr)
}

func (f *Fake) handle(w http.ResponseWriter, r *http.Request, body []byte, readErr error) {
	path := r.URL.Path
	reqID := r.Header.Get("x-request-id")
	reject := func(httpStatus, code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		f.mu.Lock()
		f.rejections = append(f.rejections, Rejection{Endpoint: path, RequestID: reqID, HTTPStatus: httpStatus, Code: code, Msg: msg})
		f.mu.Unlock()
		if f.cfg.Logger != nil {
			f.cfg.Logger.Info("mindtest: refused request", "endpoint", path, "request_id", reqID, "http_status", httpStatus, "code", code, "msg", msg)
		}
		writeAnswer(w, httpStatus, code, msg)
	}
	appStatus := func(code int) int {
		if f.cfg.HTTPStatusErrors {
			return code
		}
		return http.StatusOK
	}

	// The web server's checks.
	if path != mind.EndpointRobotMessage && path != mind.EndpointSendMessage {
		reject(http.StatusNotFound, 404, "no such API: %s", path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(http.StatusMethodNotAllowed, 405, "method %s not allowed, use POST", r.Method)
		return
	}

	// Mind's application checks.
	appID, secret := r.Header.Get("app-id"), r.Header.Get("app-secret")
	f.mu.Lock()
	wantID, wantSecret := f.cfg.AppID, f.cfg.AppSecret
	f.mu.Unlock()
	switch {
	case appID == "":
		reject(appStatus(401), 401, "missing app-id header")
		return
	case secret == "":
		reject(appStatus(401), 401, "missing app-secret header")
		return
	case subtle.ConstantTimeCompare([]byte(appID), []byte(wantID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(wantSecret)) != 1:
		reject(appStatus(401), 401, "invalid app-id or app-secret")
		return
	}
	if strings.TrimSpace(reqID) == "" {
		reject(appStatus(400), 400, "missing x-request-id header")
		return
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		reject(appStatus(400), 400, "Content-Type %q is not application/json", ct)
		return
	}
	if readErr != nil {
		var mbe *http.MaxBytesError
		if errors.As(readErr, &mbe) {
			reject(appStatus(413), 413, "body is larger than %d bytes", mbe.Limit)
			return
		}
		reject(appStatus(400), 400, "reading body: %v", readErr)
		return
	}
	msg, err := decodeMessage(path, body)
	if err != nil {
		reject(appStatus(400), 400, "%v", err)
		return
	}
	msg.RequestID = reqID
	msg.Header = r.Header.Clone()
	msg.ReceivedAt = time.Now()

	f.mu.Lock()
	if first, ok := f.accepted[reqID]; ok && msg.ReceivedAt.Sub(first) < f.cfg.DedupWindow {
		f.duplicates++
		f.mu.Unlock()
		writeAnswer(w, http.StatusOK, 200, "OK")
		return
	}
	f.accepted[reqID] = msg.ReceivedAt
	f.messages = append(f.messages, msg)
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	writeAnswer(w, http.StatusOK, 200, "OK")
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// writeAnswer writes Mind's answer shape.
func writeAnswer(w http.ResponseWriter, httpStatus, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "msg": msg, "data": map[string]any{}})
}

func writeFault(w http.ResponseWriter, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	code := f.Code
	if code == nil {
		code = status
	}
	msg := f.Msg
	if msg == "" {
		msg = http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "msg": msg, "data": map[string]any{}})
}

// resetConn drops the connection with a TCP reset and no answer.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
