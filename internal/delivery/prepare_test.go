package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/mind"
	"github.com/mindoffice/mind-relay/internal/store"
)

// bodiless is a notification whose card is rendered at send time, from
// its group (here just the body the fake Prepare returns).
func bodiless(group string, seq int, status string) store.Notification {
	n := notif(group, seq, status)
	n.Group, n.Request.Body = n.Request.Body, nil
	return n
}

// preparer is a fake Options.Renderer: it returns the notification's group
// as its body, with what err says, and counts its calls by row.
type preparer struct {
	mu    sync.Mutex
	calls map[string]int
	err   func(store.Notification) error
}

func (p *preparer) Render(_ context.Context, n store.Notification) (mind.Request, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[n.ID]++
	if p.err != nil {
		if err := p.err(n); err != nil {
			return mind.Request{}, err
		}
	}
	return mind.Request{Endpoint: n.Request.Endpoint, RequestID: "ignored", Body: n.Group}, nil
}

func (p *preparer) count(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id]
}

// A bodiless row is prepared by the worker and sent with its own request
// id; rows with a body are sent as they are, without Prepare.
func TestPrepareAtSendTime(t *testing.T) {
	m := newFakeMind()
	p := &preparer{}
	opts := fast()
	opts.Renderer = p
	st := tempStore(t)
	q := start(t, st, m, opts)
	a := submit(t, q.Queue, bodiless("a", 1, "firing"))[0]
	b := submit(t, q.Queue, notif("b", 1, "firing"))[0]
	m.waitShown(t, 2, 2*time.Second)

	_, byID := m.snapshot()
	require.Equal(t, 1, byID[a.Request.RequestID], "sent under the row's request id")
	require.Equal(t, 1, byID[b.Request.RequestID])
	require.Equal(t, 1, p.count(a.ID))
	require.Zero(t, p.count(b.ID))
	require.Eventually(t, func() bool { return get(t, st, a.ID).State == store.StateDelivered }, time.Second, 5*time.Millisecond)
}

// A row superseded while it waits is never prepared (never rendered).
func TestSupersededIsNeverPrepared(t *testing.T) {
	m := newFakeMind()
	p := &preparer{}
	opts := fast()
	opts.Renderer = p
	st := tempStore(t)
	// Three notifications of one stream queued before any send: only the
	// last is ever rendered.
	q := New(st, m, opts, nil, testLogger(t))
	ns := submit(t, q, bodiless("g", 1, "firing"), bodiless("g", 2, "firing"), bodiless("g", 3, "resolved"))
	start(t, st, m, opts)
	m.waitShown(t, 1, 2*time.Second)
	require.Zero(t, p.count(ns[0].ID))
	require.Zero(t, p.count(ns[1].ID))
	require.Equal(t, 1, p.count(ns[2].ID))
	shown, _ := m.snapshot()
	require.Equal(t, []body{{Group: "g", Seq: 3, Status: "resolved"}}, shown)
}

// ErrSkip from Prepare: nothing is sent, the row is superseded and
// counted so. Another error dead-letters it with the reason; without a
// Prepare hook a bodiless row is dead-lettered too.
func TestPrepareSkipAndFailure(t *testing.T) {
	m := newFakeMind()
	p := &preparer{err: func(n store.Notification) error {
		var b body
		_ = json.Unmarshal(n.Group, &b)
		switch b.Group {
		case "skip":
			return fmt.Errorf("%w: already sent by the ack loop", ErrSkip)
		case "broken":
			return errors.New("decode the queued group: unexpected end of JSON input")
		}
		return nil
	}}
	opts := fast()
	opts.Renderer = p
	st := tempStore(t)
	q := start(t, st, m, opts)
	skip := submit(t, q.Queue, bodiless("skip", 1, "resolved"))[0]
	broken := submit(t, q.Queue, bodiless("broken", 1, "firing"))[0]

	require.Eventually(t, func() bool {
		return notifications(q.Queue, resultSuperseded) == 1 && notifications(q.Queue, resultDeadLettered) == 1
	}, 2*time.Second, 5*time.Millisecond)
	require.Zero(t, m.shownCount())
	s := get(t, st, skip.ID)
	require.Equal(t, store.StateSuperseded, s.State)
	require.Equal(t, SkippedMarker, s.SupersededBy, "superseded_by names rows; a skip gets a marker")
	require.Contains(t, s.LastError, "already sent by the ack loop")
	d := get(t, st, broken.ID)
	require.Equal(t, store.StateDead, d.State)
	require.Equal(t, "prepare the request: decode the queued group: unexpected end of JSON input", d.LastError)

	// No hook at all.
	st2 := tempStore(t)
	q2 := start(t, st2, m, fast())
	n := submit(t, q2.Queue, bodiless("g", 1, "firing"))[0]
	require.Eventually(t, func() bool { return get(t, st2, n.ID).State == store.StateDead }, 2*time.Second, 5*time.Millisecond)
	require.Contains(t, get(t, st2, n.ID).LastError, "cannot render")
}
