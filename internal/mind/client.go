package mind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTimeout bounds one request to Mind when ClientOptions.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// userAgent names the relay to Mind.
const userAgent = "mind-relay"

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL is Mind's open platform, e.g. https://open.mindoffice.cn.
	BaseURL string
	// AppID and AppSecret are the app's credentials, sent as the app-id and
	// app-secret headers. The secret never appears in errors or logs.
	AppID     string
	AppSecret string
	// Timeout bounds one request, answer included (default 10s).
	Timeout time.Duration
	// HTTPClient, when set, is used instead of one built for the Client
	// (tests). Its redirect policy is replaced: redirects are never
	// followed, so the app-secret cannot travel to another host.
	HTTPClient *http.Client
	// Metrics, when set, are used instead of building them on the
	// registerer given to NewClient, so that several components share one
	// set.
	Metrics *Metrics
}

// Client sends requests to Mind, one attempt per Send. Build it once per
// configuration; it is safe for concurrent use.
type Client struct {
	baseURL string
	appID   string
	secret  string
	timeout time.Duration
	http    *http.Client
	metrics *Metrics
	logger  *slog.Logger
}

var _ Sender = (*Client)(nil)

// NewClient checks opts and builds a Client whose metrics live on reg
// (unless opts.Metrics is set). A nil logger discards.
func NewClient(opts ClientOptions, reg prometheus.Registerer, logger *slog.Logger) (*Client, error) {
	var errs []error
	base, err := checkBaseURL(opts.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(opts.AppID) == "" {
		errs = append(errs, errors.New("mind app_id is empty"))
	}
	if opts.AppSecret == "" {
		errs = append(errs, errors.New("mind app_secret is empty"))
	}
	if opts.Timeout < 0 {
		errs = append(errs, fmt.Errorf("mind timeout %s is negative", opts.Timeout))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mind client: %w", errors.Join(errs...))
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		hc.Transport = tr
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(reg)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		baseURL: base,
		appID:   opts.AppID,
		secret:  opts.AppSecret,
		timeout: timeout,
		http:    &hc,
		metrics: m,
		logger:  logger,
	}, nil
}

func checkBaseURL(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", errors.New("mind base_url is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("mind base_url is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("mind base_url %q is not http or https", u.Redacted())
	case u.Host == "":
		return "", fmt.Errorf("mind base_url %q has no host", u.Redacted())
	case u.User != nil:
		return "", fmt.Errorf("mind base_url %q carries user info; credentials go in app_id and app_secret", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("mind base_url %q has a query or fragment", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Metrics returns the metrics the Client counts in, to share with the
// durable queue.
func (c *Client) Metrics() *Metrics { return c.metrics }

// Send makes one attempt to deliver req. It returns nil only when Mind
// answered 2xx with code 200; otherwise a *Error that says, through
// Classify, whether trying again can help.
func (c *Client) Send(ctx context.Context, req Request) error {
	start := time.Now()
	err := c.send(ctx, req)
	outcome := OutcomeSuccess
	if err != nil {
		outcome = string(err.Reason)
	}
	elapsed := time.Since(start)
	c.metrics.observe(EndpointLabel(req.Endpoint), outcome, elapsed.Seconds())
	if err != nil {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "mind request failed",
			slog.String("endpoint", EndpointLabel(req.Endpoint)),
			slog.String("request_id", req.RequestID),
			slog.String("outcome", outcome),
			slog.Int("status", err.StatusCode),
			slog.Duration("duration", elapsed),
			slog.Any("err", err))
		return err
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "mind request sent",
		slog.String("endpoint", EndpointLabel(req.Endpoint)),
		slog.String("request_id", req.RequestID),
		slog.Duration("duration", elapsed))
	return nil
}

func (c *Client) send(ctx context.Context, req Request) *Error {
	if err := checkRequest(req); err != nil {
		return &Error{Reason: ReasonRejected, Err: err}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout,
		fmt.Errorf("no answer from Mind within %s: %w", c.timeout, context.DeadlineExceeded))
	defer cancel()

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+req.Endpoint, bytes.NewReader(req.Body))
	if err != nil {
		return c.redact(&Error{Reason: ReasonRejected, Err: fmt.Errorf("build request: %w", err)})
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", userAgent)
	hreq.Header.Set("app-id", c.appID)
	hreq.Header.Set("app-secret", c.secret)
	hreq.Header.Set("x-request-id", req.RequestID)

	resp, err := c.http.Do(hreq)
	if err != nil {
		return c.redact(transportError(ctx, req.Endpoint, err))
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, maxResponseBytes)
		_ = resp.Body.Close()
	}()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		e := transportError(ctx, req.Endpoint, fmt.Errorf("read answer: %w", err))
		e.StatusCode = resp.StatusCode
		return c.redact(e)
	}
	rerr := response{Status: resp.StatusCode, Header: resp.Header, Body: body}.check(time.Now(), c.redactString)
	if rerr == nil {
		return nil
	}
	return c.redact(rerr)
}

// checkRequest catches requests Mind is sure to refuse, without sending.
func checkRequest(req Request) error {
	var errs []error
	if !strings.HasPrefix(req.Endpoint, "/") {
		errs = append(errs, fmt.Errorf("endpoint %q is not a path", req.Endpoint))
	}
	if req.RequestID == "" {
		errs = append(errs, errors.New("request has no request id"))
	}
	if !json.Valid(req.Body) {
		errs = append(errs, errors.New("body is not valid JSON"))
	}
	return errors.Join(errs...)
}

// transportError classifies a failure to get an answer: a deadline (ours
// or the caller's) is a timeout, anything else a network error; both are
// retried. The URL is left out: only the endpoint's label is named.
func transportError(ctx context.Context, endpoint string, err error) *Error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	e := &Error{Reason: ReasonNetwork, Retryable: true}
	var nerr net.Error
	switch {
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.Reason = ReasonTimeout
		}
		cause := context.Cause(ctx)
		if errors.Is(err, cause) {
			e.Err = fmt.Errorf("post %s: %w", EndpointLabel(endpoint), err)
		} else {
			e.Err = fmt.Errorf("post %s: %w (%w)", EndpointLabel(endpoint), cause, err)
		}
		return e
	case errors.As(err, &nerr) && nerr.Timeout():
		e.Reason = ReasonTimeout
	}
	e.Err = fmt.Errorf("post %s: %w", EndpointLabel(endpoint), err)
	return e
}

// redact is the last guard against the app secret reaching an error's
// text, whatever its source.
func (c *Client) redact(e *Error) *Error {
	e.Msg = c.redactString(e.Msg)
	e.Code = c.redactString(e.Code)
	if e.Err != nil && strings.Contains(e.Err.Error(), c.secret) {
		e.Err = redactedError{text: c.redactString(e.Err.Error()), err: e.Err}
	}
	return e
}

func (c *Client) redactString(s string) string {
	if c.secret == "" {
		return s
	}
	return strings.ReplaceAll(s, c.secret, "<secret>")
}

// redactedError shows redacted text but still unwraps to the original
// error, so errors.Is keeps working.
type redactedError struct {
	text string
	err  error
}

func (r redactedError) Error() string { return r.text }
func (r redactedError) Unwrap() error { return r.err }
