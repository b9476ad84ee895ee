package mind

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDryRunRedactsAckTokens(t *testing.T) {
	var buf bytes.Buffer
	d := NewDryRun(slog.New(slog.NewJSONHandler(&buf, nil)))
	tok := "eyJ2IjoxLCJhIjoiYWNrIn0.J8BMPx-JRi2AICuze14b9tGIDmMA9eU-zeEokCnxL_Q"
	body := `{"receive_open_ids":["ou_a"],"msg_type":"interactive","content":"{\"elements\":[{\"value\":{\"token\":\"` + tok + `\"}},{\"url\":\"https://relay/ack/` + tok + `\"}]}"}`
	require.NoError(t, d.Send(context.Background(), Request{Endpoint: EndpointRobotMessage, RequestID: "r", Body: []byte(body)}))
	out := buf.String()
	require.NotContains(t, out, "J8BMPx-JRi2AICuze14b9tGIDmMA9eU-zeEokCnxL_Q")
	require.Contains(t, out, "eyJ2IjoxLCJhIjoiYWNrIn0.REDACTED")
	require.Contains(t, out, `"receive_open_ids":["ou_a"]`, "the body stays a JSON object")
}
