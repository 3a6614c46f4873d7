// Package registry holds per-key state (a breaker, a limiter) created on first
// use, bounded in size: idle entries are evicted, and when the map is full the
// least recently used entries make room for new ones.
package registry

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// touchEvery is how stale an entry's last-use time may get before Get writes
// it again; it keeps concurrent hits on one key from contending on a store.
const touchEvery = int64(50 * time.Millisecond)

// Map is a bounded map from keys to values built on first use.
// It is safe for concurrent use by multiple goroutines.
type Map[V any] struct {
	max  int
	idle int64 // nanoseconds; 0 means entries never expire for idleness
	newV func(key string) V

	m  sync.Map   // string → *entry[V]; lock-free reads on the hot path
	mu sync.Mutex // serializes inserts and evictions
	n  int        // entries in m, guarded by mu
}

type entry[V any] struct {
	v    V
	last atomic.Int64 // unix nanoseconds of the last Get
}

// New returns a Map holding at most max entries (max < 1 means 1), evicting
// entries unused for longer than idle (idle <= 0: only when full). newV builds
// the value for a key on its first use; it is called with the Map's lock held
// and must not call back into the Map.
func New[V any](max int, idle time.Duration, newV func(key string) V) *Map[V] {
	if max < 1 {
		max = 1
	}
	if idle < 0 {
		idle = 0
	}
	return &Map[V]{max: max, idle: int64(idle), newV: newV}
}

// Get returns the value for key, creating it if needed, and marks it used at now.
func (m *Map[V]) Get(key string, now time.Time) V {
	t := now.UnixNano()
	if v, ok := m.m.Load(key); ok {
		e := v.(*entry[V])
		if t-e.last.Load() > touchEvery {
			e.last.Store(t)
		}
		return e.v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m.Load(key); ok {
		e := v.(*entry[V])
		e.last.Store(t)
		return e.v
	}
	if m.n >= m.max {
		m.evictLocked(t)
	}
	e := &entry[V]{v: m.newV(key)}
	e.last.Store(t)
	m.m.Store(key, e)
	m.n++
	return e.v
}

// Peek returns the value for key without creating it or marking it used.
func (m *Map[V]) Peek(key string) (V, bool) {
	v, ok := m.m.Load(key)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(*entry[V]).v, true
}

// Len reports how many entries the Map holds.
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Range calls f for each entry until f returns false. f must not call back
// into the Map.
func (m *Map[V]) Range(f func(key string, v V) bool) {
	m.m.Range(func(k, v any) bool { return f(k.(string), v.(*entry[V]).v) })
}

// evictLocked drops every idle entry and, if the map is still full, the least
// recently used eighth of it, so that a flood of new keys costs amortized
// O(1) evictions per insert.
func (m *Map[V]) evictLocked(now int64) {
	if m.idle > 0 {
		m.m.Range(func(k, v any) bool {
			if now-v.(*entry[V]).last.Load() > m.idle {
				m.m.Delete(k)
				m.n--
			}
			return true
		})
	}
	if m.n < m.max {
		return
	}
	lasts := make([]int64, 0, m.n)
	m.m.Range(func(_, v any) bool {
		lasts = append(lasts, v.(*entry[V]).last.Load())
		return true
	})
	slices.Sort(lasts)
	n := m.n - m.max + 1 + m.max/8
	if n > len(lasts) {
		n = len(lasts)
	}
	cut := lasts[n-1]
	m.m.Range(func(k, v any) bool {
		if v.(*entry[V]).last.Load() <= cut {
			m.m.Delete(k)
			m.n--
			n--
		}
		return n > 0
	})
}
