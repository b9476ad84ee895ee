package delivery

import (
	"context"
	"fmt"
	"sync"

	"github.com/mindoffice/mind-relay/internal/store"
)

// maxBatch caps the notifications of one group commit.
const maxBatch = 1000

// committer group-commits concurrent Submits: while one commit runs, every
// Submit that arrives joins the next batch, and the first of them (the
// leader) commits the whole batch in one transaction as soon as the running
// commit ends. Durability then costs one fsync per batch rather than one per
// webhook, with no goroutine of its own and no added wait when there is no
// contention: a lone Submit commits at once.
type committer struct {
	enqueue func(context.Context, []store.Notification) (store.Changes, error)
	after   func(n int, ch store.Changes, err error) // once per batch, before its waiters return
	slot    chan struct{}                            // held by the commit running

	mu   sync.Mutex
	next *batch // filling up, its leader waiting for the slot
}

type batch struct {
	items []store.Notification
	done  chan struct{}
	err   error
}

func newCommitter(enqueue func(context.Context, []store.Notification) (store.Changes, error), after func(int, store.Changes, error)) *committer {
	return &committer{enqueue: enqueue, after: after, slot: make(chan struct{}, 1)}
}

func (c *committer) submit(ctx context.Context, ns []store.Notification) error {
	c.mu.Lock()
	b, leader := c.next, false
	if b == nil || len(b.items)+len(ns) > maxBatch {
		b, leader = &batch{done: make(chan struct{})}, true
		c.next = b
	}
	b.items = append(b.items, ns...)
	c.mu.Unlock()

	if leader {
		c.lead(ctx, b)
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the commit: %w", context.Cause(ctx))
	}
}

// lead commits b once the previous commit is done. The followers' rows ride
// on this call, so the leader's cancellation must not abort it.
func (c *committer) lead(ctx context.Context, b *batch) {
	c.slot <- struct{}{}
	c.mu.Lock()
	if c.next == b {
		c.next = nil // from now on newcomers start the next batch
	}
	items := b.items
	c.mu.Unlock()

	ch, err := c.enqueue(context.WithoutCancel(ctx), items)
	<-c.slot
	c.after(len(items), ch, err)
	b.err = err
	close(b.done)
}
