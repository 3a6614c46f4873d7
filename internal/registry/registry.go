// Package registry holds per-key state (a breaker, a limiter) created on first
// use, bounded in size: idle entries are evicted, and when the map is full the
// least recently used entries make room for new ones.
package registry

import (
	"maps"
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
//
// Reads of existing keys take no lock and allocate nothing: they look the key
// up in an immutable snapshot. Inserts and evictions go to the authoritative
// map under a mutex, and the snapshot is republished once the misses since the
// last copy match its size (as sync.Map promotes its dirty map), so a flood of
// new keys costs amortized O(1) per insert.
type Map[V any] struct {
	max  int
	idle int64 // nanoseconds; 0 means entries never expire for idleness
	newV func(key string) V

	read atomic.Pointer[map[string]*entry[V]] // snapshot; never mutated once stored

	stale atomic.Bool // all holds keys the snapshot lacks

	mu     sync.Mutex
	all    map[string]*entry[V] // authoritative
	misses int
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
	return &Map[V]{max: max, idle: int64(idle), newV: newV, all: make(map[string]*entry[V])}
}

// Get returns the value for key, creating it if needed, and marks it used at now.
func (m *Map[V]) Get(key string, now time.Time) V {
	t := now.UnixNano()
	if r := m.read.Load(); r != nil {
		if e := (*r)[key]; e != nil {
			if t-e.last.Load() > touchEvery {
				e.last.Store(t)
			}
			return e.v
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.all[key]
	if e == nil {
		if len(m.all) >= m.max {
			m.evictLocked(t)
		}
		e = &entry[V]{v: m.newV(key)}
		m.all[key] = e
		m.stale.Store(true)
	}
	e.last.Store(t)
	if m.misses++; m.misses >= len(m.all) {
		m.publishLocked()
	}
	return e.v
}

// GetBytes is Get for a key held in a byte slice: finding an existing key
// allocates nothing; only a new key is copied into a string.
func (m *Map[V]) GetBytes(key []byte, now time.Time) V {
	if r := m.read.Load(); r != nil {
		if e := (*r)[string(key)]; e != nil { // no allocation: the compiler looks up the bytes
			if t := now.UnixNano(); t-e.last.Load() > touchEvery {
				e.last.Store(t)
			}
			return e.v
		}
	}
	return m.Get(string(key), now)
}

// Peek returns the value for key without creating it or marking it used.
// It takes no lock when the snapshot is current.
func (m *Map[V]) Peek(key string) (V, bool) {
	// Read the flag before the snapshot: a snapshot loaded after a false
	// flag holds every key inserted before that flag was cleared.
	stale := m.stale.Load()
	if r := m.read.Load(); r != nil {
		if e := (*r)[key]; e != nil {
			return e.v, true
		}
		if !stale {
			var zero V
			return zero, false
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.all[key]
	if e == nil {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Len reports how many entries the Map holds.
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.all)
}

// Range calls f for each entry until f returns false. f must not call back
// into the Map.
func (m *Map[V]) Range(f func(key string, v V) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.all {
		if !f(k, e.v) {
			return
		}
	}
}

func (m *Map[V]) publishLocked() {
	snap := maps.Clone(m.all)
	m.read.Store(&snap)
	m.stale.Store(false)
	m.misses = 0
}

// evictLocked drops every idle entry and, if the map is still full, the least
// recently used eighth of it, then republishes the snapshot so that no reader
// keeps finding an evicted entry.
func (m *Map[V]) evictLocked(now int64) {
	defer m.publishLocked()
	if m.idle > 0 {
		for k, e := range m.all {
			if now-e.last.Load() > m.idle {
				delete(m.all, k)
			}
		}
	}
	if len(m.all) < m.max {
		return
	}
	lasts := make([]int64, 0, len(m.all))
	for _, e := range m.all {
		lasts = append(lasts, e.last.Load())
	}
	slices.Sort(lasts)
	n := min(len(m.all)-m.max+1+m.max/8, len(lasts))
	cut := lasts[n-1]
	for k, e := range m.all {
		if n == 0 {
			break
		}
		if e.last.Load() <= cut {
			delete(m.all, k)
			n--
		}
	}
}
