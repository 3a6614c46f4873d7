package registry

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGetCreatesOnceAndReuses(t *testing.T) {
	calls := 0
	m := New(4, 0, func(k string) *string { calls++; s := k; return &s })
	now := time.Unix(1000, 0)
	a := m.Get("a", now)
	if b := m.Get("a", now); a != b {
		t.Fatal("second Get built a new value")
	}
	if calls != 1 {
		t.Fatalf("newV called %d times, want 1", calls)
	}
	if _, ok := m.Peek("b"); ok {
		t.Fatal("Peek created an entry")
	}
}

func TestBoundedUnderFlood(t *testing.T) {
	const max = 64
	m := New(max, time.Minute, func(k string) int { return len(k) })
	now := time.Unix(1000, 0)
	for i := 0; i < 100_000; i++ {
		m.Get("model-"+strconv.Itoa(i), now.Add(time.Duration(i)*time.Microsecond))
		if n := m.Len(); n > max {
			t.Fatalf("after %d keys the map holds %d > %d", i+1, n, max)
		}
	}
}

func TestRecentlyUsedSurvivesEviction(t *testing.T) {
	m := New(8, 0, func(k string) string { return k })
	t0 := time.Unix(1000, 0)
	m.Get("hot", t0)
	for i := 0; i < 100; i++ {
		now := t0.Add(time.Duration(i+1) * time.Second)
		m.Get("hot", now) // used every time a new key arrives
		m.Get("cold-"+strconv.Itoa(i), now)
	}
	if _, ok := m.Peek("hot"); !ok {
		t.Fatal("the most recently used key was evicted")
	}
}

func TestIdleEntriesExpire(t *testing.T) {
	m := New(2, time.Second, func(k string) string { return k })
	t0 := time.Unix(1000, 0)
	m.Get("a", t0)
	m.Get("b", t0.Add(1500*time.Millisecond))
	m.Get("c", t0.Add(1600*time.Millisecond)) // full: "a" is idle past 1 s
	if _, ok := m.Peek("a"); ok {
		t.Fatal("idle entry a survived")
	}
	if _, ok := m.Peek("b"); !ok {
		t.Fatal("fresh entry b was evicted")
	}
}

func TestConcurrentGet(t *testing.T) {
	m := New(16, 0, func(k string) *int { return new(int) })
	var wg sync.WaitGroup
	now := time.Unix(1000, 0)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				m.Get(strconv.Itoa((g*i)%40), now.Add(time.Duration(i)))
			}
		}(g)
	}
	wg.Wait()
	if m.Len() > 16 {
		t.Fatalf("Len %d > 16", m.Len())
	}
}

func BenchmarkGetHit(b *testing.B) {
	m := New(1024, time.Minute, func(k string) int { return 0 })
	now := time.Now()
	m.Get("api.example.com/gpt-4o", now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Get("api.example.com/gpt-4o", now)
		}
	})
}

func TestPeekSeesNewKeysBeforeTheSnapshotDoes(t *testing.T) {
	m := New(100, 0, func(k string) string { return k })
	now := time.Unix(1000, 0)
	for i := 0; i < 10; i++ {
		m.Get("k"+strconv.Itoa(i), now) // several inserts: the snapshot lags
		for j := 0; j <= i; j++ {
			if _, ok := m.Peek("k" + strconv.Itoa(j)); !ok {
				t.Fatalf("after inserting k0..k%d, Peek(k%d) missed", i, j)
			}
		}
		if _, ok := m.Peek("absent"); ok {
			t.Fatal("Peek found a key never inserted")
		}
	}
}
