// Package mind talks to Mind's open platform: it builds the two send
// requests of seeds 000 and 001, sends them with the app's credentials, and
// says of every failure whether trying again can help.
package mind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Endpoint paths, relative to mind.base_url.
const (
	// EndpointRobotMessage sends a card to users' private chats with the
	// robot (seed 000).
	EndpointRobotMessage = "/open-platform/api/robot/send/message"
	// EndpointSendMessage sends to listed users or, with no receiver, to
	// every subscribed user (seed 001).
	EndpointSendMessage = "/open-platform/api/open-apis/send_message"
)

// EndpointLabel is the bounded metric label for an endpoint path.
func EndpointLabel(endpoint string) string {
	switch endpoint {
	case EndpointRobotMessage:
		return "robot_send_message"
	case EndpointSendMessage:
		return "send_message"
	default:
		return "other"
	}
}

// MsgTypeInteractive is the message type of every alert card.
const MsgTypeInteractive = "interactive"

// RobotMessage is the body of EndpointRobotMessage.
type RobotMessage struct {
	ReceiveOpenIDs []string `json:"receive_open_ids"`
	MsgType        string   `json:"msg_type"`
	Content        string   `json:"content"`
}

// SendMessage is the body of EndpointSendMessage. With neither ReceiveIDs nor
// ReceiveID the message goes to every subscribed user.
type SendMessage struct {
	ReceiveIDs  []string `json:"receive_ids,omitempty"`
	ReceiveID   string   `json:"receive_id,omitempty"`
	ReceiveType int      `json:"receive_type"`
	MsgType     string   `json:"msg_type"`
	Content     string   `json:"content"`
}

// ReceiveTypeSubscribers is send_message's receive_type for subscribed users.
const ReceiveTypeSubscribers = 1

// Request is one send to Mind, ready to go: the endpoint, the exact JSON
// body and the request id that Mind uses to drop duplicates. The request id
// must stay the same across every retry of one notification.
type Request struct {
	Endpoint  string          `json:"endpoint"`
	RequestID string          `json:"request_id"`
	Body      json.RawMessage `json:"body"`
}

// CardEndpoint is the endpoint NewCardRequest would use for these
// recipients, for a request whose body is built later.
func CardEndpoint(openIDs []string, allSubscribers bool) (string, error) {
	switch {
	case allSubscribers:
		return EndpointSendMessage, nil
	case len(openIDs) > 0:
		return EndpointRobotMessage, nil
	default:
		return "", errNobody
	}
}

var errNobody = errors.New("no open_ids and not all_subscribers: nobody to send to")

// NewCardRequest builds the request that sends an interactive card's JSON
// (content) to openIDs, or to every subscribed user when allSubscribers.
func NewCardRequest(requestID string, openIDs []string, allSubscribers bool, content string) (Request, error) {
	var (
		endpoint string
		body     any
	)
	switch {
	case allSubscribers:
		endpoint = EndpointSendMessage
		body = SendMessage{ReceiveType: ReceiveTypeSubscribers, MsgType: MsgTypeInteractive, Content: content}
	case len(openIDs) > 0:
		endpoint = EndpointRobotMessage
		body = RobotMessage{ReceiveOpenIDs: openIDs, MsgType: MsgTypeInteractive, Content: content}
	default:
		return Request{}, errNobody
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Request{}, fmt.Errorf("marshal %s body: %w", EndpointLabel(endpoint), err)
	}
	return Request{Endpoint: endpoint, RequestID: requestID, Body: b}, nil
}

// Sender sends one request to Mind, once. A nil error means Mind accepted
// it. Otherwise the error says, through Classify, whether to try again.
type Sender interface {
	Send(ctx context.Context, req Request) error
}

// SenderFunc adapts a function to Sender, for fakes in tests.
type SenderFunc func(ctx context.Context, req Request) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, req Request) error { return f(ctx, req) }

var _ Sender = SenderFunc(nil)

// Reason is the closed set of failure reasons used as a metric label.
type Reason string

// Failure reasons.
const (
	ReasonNetwork       Reason = "network"        // connection refused, reset, DNS
	ReasonTimeout       Reason = "timeout"        // the request's deadline passed
	ReasonHTTP5xx       Reason = "http_5xx"       // Mind answered 5xx
	ReasonRateLimited   Reason = "rate_limited"   // HTTP 429, or a rate-limit code
	ReasonAuth          Reason = "auth"           // bad app-id or app-secret
	ReasonRejected      Reason = "rejected"       // Mind refused the content: never retried
	ReasonCodeTemporary Reason = "code_temporary" // a non-200 code Mind may accept later
	ReasonBadResponse   Reason = "bad_response"   // not the JSON Mind documents
)

// Error is a failed send.
type Error struct {
	Reason     Reason
	Retryable  bool
	RetryAfter time.Duration // Mind's Retry-After, if it sent one
	StatusCode int           // HTTP status, 0 when none arrived
	Code       string        // Mind's body code, when one arrived
	Msg        string        // Mind's body msg, when one arrived
	Err        error         // the underlying error, secrets redacted
}

func (e *Error) Error() string {
	s := fmt.Sprintf("mind: %s", e.Reason)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.StatusCode)
		if e.Code != "" {
			s += ", code " + e.Code
		}
		if e.Msg != "" {
			s += ", msg " + fmt.Sprintf("%q", e.Msg)
		}
		s += ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// SetupFault reports whether err says the relay's own setup is wrong
// rather than the request: Mind refused the app credentials (HTTP 401/403,
// or a 401/403 body code: a bad secret rotation), or base_url answered
// with something that is not Mind's API (a proxy's 2xx HTML maintenance
// page, a redirect to a login form). No notification gets through until
// the setup or the server in front of Mind changes, so the caller should
// hold every notification rather than give up on this one; the durable
// queue pauses. It returns the reason, for a metric label.
func SetupFault(err error) (Reason, bool) {
	var me *Error
	if !errors.As(err, &me) {
		return "", false
	}
	switch me.Reason {
	case ReasonAuth, ReasonBadResponse:
		return me.Reason, true
	}
	return "", false
}

// Classify says whether err is worth another try, and how long Mind asked
// to wait. Errors that are not *Error (a context cancelled by shutdown, say)
// are retryable.
func Classify(err error) (retry bool, after time.Duration, reason Reason) {
	if err == nil {
		return false, 0, ""
	}
	var me *Error
	if errors.As(err, &me) {
		return me.Retryable, me.RetryAfter, me.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true, 0, ReasonTimeout
	}
	return true, 0, ReasonNetwork
}
