package breaker

import (
	"testing"
	"time"
)

func BenchmarkAllow(b *testing.B) {
	b.Run("case:allow-closed", func(b *testing.B) {
		s, _ := New(Settings{})
		now := time.Now()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				done, err := s.Allow("api.example.com/gpt-4o", now)
				if err != nil {
					b.Error(err)
					return
				}
				done.Done(Success)
			}
		})
	})
	b.Run("case:reject-open", func(b *testing.B) {
		s, _ := New(Settings{MinRequests: 1, FailureRatio: 0.1, OpenTimeout: time.Hour})
		now := time.Now()
		done, _ := s.Allow("api.example.com/gpt-4o", now)
		done.Done(Failure)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Allow("api.example.com/gpt-4o", now); err == nil {
					b.Error("allowed")
					return
				}
			}
		})
	})
	b.Run("case:reject-half-open", func(b *testing.B) {
		s, _ := New(Settings{MinRequests: 1, FailureRatio: 0.1, OpenTimeout: time.Millisecond, HalfOpenProbes: 1})
		done, _ := s.Allow("api.example.com/gpt-4o", time.Now())
		done.Done(Failure)
		var probe Ticket
		for probe.report == nil { // hold the one probe once the breaker is half-open
			probe, _ = s.Allow("api.example.com/gpt-4o", time.Now())
		}
		defer probe.Done(Success)
		now := time.Now()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Allow("api.example.com/gpt-4o", now); err == nil {
					b.Error("allowed")
					return
				}
			}
		})
	})
	b.Run("case:disabled", func(b *testing.B) {
		s, _ := New(Settings{Disabled: true})
		now := time.Now()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				done, _ := s.Allow("api.example.com/gpt-4o", now)
				done.Done(Success)
			}
		})
	})
}
