package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func BenchmarkReserve(b *testing.B) {
	b.Run("case:off", func(b *testing.B) {
		s := newSet(b, Limits{})
		now := time.Now()
		b.ReportAllocs()
		for range b.N {
			s.Reserve(k, now)
		}
	})
	b.Run("case:off;goroutines:all", func(b *testing.B) {
		s := newSet(b, Limits{})
		now := time.Now()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Reserve(k, now)
			}
		})
	})
	b.Run("case:exempt-key;rules:4", func(b *testing.B) {
		s := newSet(b, Limits{Default: PerMinute(600), Rules: []Rule{
			{Pattern: "*/gpt-4o-mini", Limit: PerMinute(60)},
			{Pattern: "*/o3*", Limit: PerMinute(60)},
			{Pattern: "*/claude-*", Limit: PerMinute(60)},
			{Pattern: "api.example.com/*"},
		}})
		now := time.Now()
		b.ReportAllocs()
		for range b.N {
			s.Reserve(k, now)
		}
	})
	b.Run("case:limited;goroutines:all", func(b *testing.B) {
		s := newSet(b, Limits{Default: Limit{Rate: rate.Limit(1e9)}})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Reserve(k, time.Now())
			}
		})
	})
	b.Run("case:limited;keys:50;goroutines:all", func(b *testing.B) {
		s := newSet(b, Limits{Default: Limit{Rate: rate.Limit(1e9)}})
		keys := make([]string, 50)
		for i := range keys {
			keys[i] = "api.example.com/model-" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				s.Reserve(keys[i%len(keys)], time.Now())
				i++
			}
		})
	})
}

func BenchmarkWait(b *testing.B) {
	b.Run("case:off", func(b *testing.B) {
		s := newSet(b, Limits{})
		ctx := context.Background()
		b.ReportAllocs()
		for range b.N {
			_ = s.Wait(ctx, k)
		}
	})
}
