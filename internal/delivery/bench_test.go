package delivery

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mindoffice/mind-relay/internal/store"
)

// BenchmarkSubmit submits one notification per call from many goroutines at
// once, as concurrent webhooks do. commits/op below 1 is group commit at
// work: each commit is one fsync of the WAL (synchronous=FULL).
// "no_group_commit" is the same load committed one transaction per call.
func BenchmarkSubmit(b *testing.B) {
	var groups atomic.Int64
	next := func() []store.Notification {
		return []store.Notification{notif(fmt.Sprint(groups.Add(1)), 1, "firing")}
	}
	for _, par := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("goroutines_per_cpu=%d", par), func(b *testing.B) {
			cs := &countingStore{Store: tempStore(b)}
			q := New(cs, sendFunc(nil), Options{}, prometheus.NewRegistry(), nil)
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := q.Submit(context.Background(), next()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(cs.enqueues.Load())/float64(b.N), "commits/op")
		})
	}
	b.Run("no_group_commit/goroutines_per_cpu=16", func(b *testing.B) {
		cs := &countingStore{Store: tempStore(b)}
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cs.Enqueue(context.Background(), next()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(cs.enqueues.Load())/float64(b.N), "commits/op")
	})
}
