package mind

import (
	"context"
	"encoding/json"
	"log/slog"
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

// Send logs req and returns nil.
func (d *DryRun) Send(ctx context.Context, req Request) error {
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
