package mind

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/token"
)

func TestDryRunRedactsAckTokens(t *testing.T) {
	var buf bytes.Buffer
	d := NewDryRun(slog.New(slog.NewJSONHandler(&buf, nil)))
	// A token exactly as the relay signs them, so that a change of format
	// that the redaction misses fails here.
	tok, err := token.Sign([]byte("dry-run-test-secret-0123"), token.Claims{Version: token.Version, Action: token.ActionAck,
		GroupID: "0123456789abcdef", NotificationID: "7d9c6c4e-1111-4222-8333-944455556666", Receiver: "oncall",
		IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	payload, sig, _ := strings.Cut(tok, ".")
	body := `{"receive_open_ids":["ou_a"],"msg_type":"interactive","content":"{\"elements\":[{\"value\":{\"token\":\"` + tok + `\"}},{\"url\":\"https://relay/ack/` + tok + `\"}]}"}`
	require.NoError(t, d.Send(context.Background(), Request{Endpoint: EndpointRobotMessage, RequestID: "r", Body: []byte(body)}))
	out := buf.String()
	require.NotContains(t, out, sig)
	require.Contains(t, out, payload+".REDACTED")
	require.Contains(t, out, `"receive_open_ids":["ou_a"]`, "the body stays a JSON object")
}
