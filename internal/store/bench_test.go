package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkEnqueue is the price of one durable commit of one notification,
// the cost group commit shares among concurrent webhooks.
func BenchmarkEnqueue(b *testing.B) {
	s, err := openSQLite(context.Background(), Options{Path: b.TempDir() + "/relay.db"}, migrations)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Enqueue(context.Background(), []Notification{note(fmt.Sprint(i), fmt.Sprint(i))}); err != nil {
			b.Fatal(err)
		}
	}
}
