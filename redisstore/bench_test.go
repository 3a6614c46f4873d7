package redisstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-http/rebound"
)

// BenchmarkTake measures one Take, one round trip to the Redis under test
// (a local redis-server unless REBOUND_REDIS_ADDR says otherwise), and
// reports the median and 99th percentile of its latency.
func BenchmarkTake(b *testing.B) {
	if skipReason != "" {
		b.Skip(skipReason)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	s, err := New(rdb, Options{Prefix: "rebound-bench:"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := rebound.StoreLimit{Rate: 1 << 30, Burst: 1 << 30, Period: time.Second}
	ctx := context.Background()
	if _, err := s.Take(ctx, "model", l, 1); err != nil { // connect, load the script
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := s.Take(ctx, "model", l, 1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	us := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(us(0.50), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
}
