package redisstore

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-http/rebound"
)

// TestRedisFaults runs its own redis-server, stalls it, kills it and
// restarts it on the same port: Take fails within its ctx, Raise never
// blocks, Members keeps its count, and all works again once Redis is back.
func TestRedisFaults(t *testing.T) {
	needServerBinary(t)
	srv, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.kill) // after the Stores' Close

	p := Options{Prefix: testPrefix(t), Heartbeat: 50 * time.Millisecond, MemberTTL: 5 * time.Second}
	a := newStore(t, newClient(t, srv.addr()), p)
	b := newStore(t, newClient(t, srv.addr()), p)
	// A client that leaves contexts to its read timeout: Take still stops at ctx.
	legacy := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = legacy.Close() })
	c := newStore(t, legacy, p)
	stores := map[string]*Store{"a": a, "b": b, "c (no ContextTimeoutEnabled)": c}

	l := rebound.StoreLimit{Rate: 1000, Burst: 1000, Period: time.Second}
	got, f := recorder()
	defer b.Subscribe(f)()
	warm := time.Now().Add(time.Minute)
	a.Raise("warm-up", warm)
	await(t, got, "warm-up", warm, 5*time.Second)
	eventually(t, 3*time.Second, "three members", func() bool { return a.Members() == 3 })

	// down checks that Take fails within its 50 ms ctx (plus scheduling
	// slack) and that Raise returns at once.
	down := func(t *testing.T, until time.Time) {
		t.Helper()
		for what, s := range stores {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			start := time.Now()
			_, err := s.Take(ctx, "model", l, 1)
			took := time.Since(start)
			cancel()
			if err == nil || took > 250*time.Millisecond {
				t.Errorf("%s: Take with Redis away = %v after %v, want an error within the ctx", what, err, took)
			}
			start = time.Now()
			s.Raise("during-"+t.Name(), until)
			if took := time.Since(start); took > 50*time.Millisecond {
				t.Errorf("%s: Raise blocked %v", what, took)
			}
		}
	}

	stalled := time.Now().Add(time.Minute)
	t.Run("stalled", func(t *testing.T) {
		if err := srv.signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = srv.signal(syscall.SIGCONT) }()
		down(t, stalled)
	})

	killed := time.Now().Add(time.Minute)
	t.Run("killed", func(t *testing.T) {
		srv.kill()
		down(t, killed)
		if n := a.Members(); n != 3 {
			t.Errorf("Members() with Redis away = %d, want the last count, 3", n)
		}
	})

	t.Run("restarted", func(t *testing.T) {
		if err := srv.start(); err != nil {
			t.Fatal(err)
		}
		for what, s := range stores {
			eventually(t, 10*time.Second, what+": Take works again", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				_, err := s.Take(ctx, "model", l, 1)
				return err == nil
			})
		}
		// Raised while Redis was away: sent once it is back, and heard by
		// b's new subscription (or its replay).
		await(t, got, "during-TestRedisFaults/killed", killed, 10*time.Second)
		after := time.Now().Add(2 * time.Minute)
		a.Raise("after", after)
		await(t, got, "after", after, 10*time.Second)
		eventually(t, 5*time.Second, "members counted again", func() bool { return a.Members() == 3 })
	})
}
