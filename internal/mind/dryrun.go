package mind

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
)

// DryRunMessage is the log message of each request DryRun would have sent.
const DryRunMessage = "mind request (dry run)"

// DryRun is a Sender that sends nothing: it writes each request as one log
// line (message DryRunMessage; attributes endpoint, request_id and body,
// the body as a JSON object with a JSON handler) and reports success. It
// lets anyone try the relay without a Mind app.
type DryRun struct {
	logger *slog.Logger
}

var _ Sender = (*DryRun)(nil)

// NewDryRun returns a DryRun that writes to logger (nil discards).
func NewDryRun(logger *slog.Logger) *DryRun {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DryRun{logger: logger}
}

// signedToken matches the relay's ack tokens (base64url JSON payload, a
// dot, base64url HMAC): the payload part says what the token is for, the
// signature part is what makes it work.
var signedToken = regexp.MustCompile(`(eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{20,}`)

// Send logs req and returns nil. Ack tokens in the card lose their
// signature on the way to the log: whoever reads logs must not be able to
// acknowledge alerts.
func (d *DryRun) Send(ctx context.Context, req Request) error {
	req.Body = signedToken.ReplaceAll(req.Body, []byte("$1.REDACTED"))
	var body slog.Attr
	if json.Valid(req.Body) {
		// json.RawMessage marshals as itself, compacted: one line, an
		// object, not an escaped string.
		body = slog.Any("body", req.Body)
	} else {
		body = slog.String("body", string(req.Body))
	}
	d.logger.LogAttrs(ctx, slog.LevelInfo, DryRunMessage,
		slog.String("endpoint", req.Endpoint),
		slog.String("request_id", req.RequestID),
		body)
	return nil
}
