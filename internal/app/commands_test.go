package app

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

// deadLetters makes a store beside a config holding one dead letter and
// one delivered notification, and returns the config's path.
func deadLetters(t *testing.T) string {
	t.Helper()
	path := writeConfig(t, routeAndReceiver)
	cfg, err := config.LoadFile(path, config.Options{DryRun: true})
	require.NoError(t, err)
	ctx := context.Background()
	db, err := store.Open(ctx, store.OptionsFromConfig(cfg.Store))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	now := time.Now()
	req := mind.Request{Endpoint: "/x", Body: []byte(`{}`)}
	_, err = db.Enqueue(ctx, []store.Notification{
		{ID: "dead-1", GroupID: "g1", Receiver: "r", Request: req},
		{ID: "sent-1", GroupID: "g2", Receiver: "r", Request: req},
	})
	require.NoError(t, err)
	claimed, err := db.Claim(ctx, now.Add(time.Second), 10)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	_, err = db.Complete(ctx, []store.Outcome{
		{ID: "dead-1", State: store.StateDead, At: now, Attempts: 1, Error: "refused"},
		{ID: "sent-1", State: store.StateDelivered, At: now, Attempts: 1},
	})
	require.NoError(t, err)
	return path
}

// `dlq replay` names the IDs it did not replay and fails for them; the
// dead letters among the IDs are replayed.
func TestDLQReplayUnknownIDs(t *testing.T) {
	tests := []struct {
		name    string
		ids     []string
		out     string
		wantErr string
	}{
		{"a dead letter", []string{"dead-1"}, "replayed 1 dead letters", ""},
		{"an unknown id", []string{"nope"}, "", "not replayed: nope (no such notification)"},
		{"a delivered one", []string{"sent-1"}, "", "not replayed: sent-1 (delivered, not a dead letter)"},
		{"known and unknown", []string{"nope", "dead-1", "nope-2"}, "replayed 1 dead letters",
			"not replayed: nope (no such notification), nope-2 (no such notification)"},
		{"all", nil, "replayed 1 dead letters", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := deadLetters(t)
			var out bytes.Buffer
			err := DLQ(context.Background(), path, "replay", tc.ids, &out)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.wantErr)
			}
			if tc.out == "" {
				require.Empty(t, out.String())
			} else {
				require.Contains(t, out.String(), tc.out)
			}
		})
	}
}
