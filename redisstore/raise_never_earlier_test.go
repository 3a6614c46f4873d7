package redisstore

import (
	"testing"
	"time"
)

// TestRaiseNeverEarlier: a deadline is sent in Unix milliseconds, rounded
// up: truncated, every other replica was told to hold the key until up to
// a millisecond before the deadline raised, against "never earlier than the server
// said" (a retry-after-ms hint is now+N ms, sub-millisecond part and all).
func TestRaiseNeverEarlier(t *testing.T) {
	needRedis(t)
	p := Options{Prefix: testPrefix(t)}
	a := newStore(t, newClient(t, redisAddr), p)
	b := newStore(t, newClient(t, redisAddr), p)
	got, f := recorder()
	defer b.Subscribe(f)()
	until := time.Now().Add(time.Minute).Truncate(time.Millisecond).Add(999 * time.Microsecond)
	a.Raise("hold/h/m", until)
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case d := <-got:
			if d.name != "hold/h/m" {
				continue
			}
			if d.until.Before(until) {
				t.Fatalf("b holds until %v, %v before the deadline raised (%v)", d.until, until.Sub(d.until), until)
			}
			return
		case <-timer.C:
			t.Fatal("deadline not delivered")
		}
	}
}
