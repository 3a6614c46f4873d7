package redisstore

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/rebound-http/rebound"
)

// Defaults of Options.
const (
	DefaultPrefix = "rebound:"
	// DefaultClusterPrefix is the prefix with a Redis Cluster or Ring: in
	// braces, so that the keys of a script share one slot.
	DefaultClusterPrefix = "{rebound}:"
	DefaultHeartbeat     = time.Second
)

var (
	// ErrInvalidOptions is wrapped by the errors of Options.Validate.
	ErrInvalidOptions = errors.New("redisstore: invalid options")
	// ErrInvalidLimit is wrapped by the error of a Take whose limit or
	// cost cannot be charged (a zero rate, burst or period, or n < 1).
	ErrInvalidLimit = errors.New("redisstore: invalid limit")
	// ErrClosed is returned by Take once the Store is closed.
	ErrClosed = errors.New("redisstore: store closed")
)

// opTimeout bounds each call the background goroutines make.
const opTimeout = 2 * time.Second

// Options configures a Store. The zero value is valid.
type Options struct {
	// Prefix starts the name of every key and channel the Store uses;
	// Stores share their gates when they share a Redis and a prefix. If
	// empty, DefaultPrefix is used, or DefaultClusterPrefix with a
	// *redis.ClusterClient or *redis.Ring, with which a prefix must hold a
	// hash tag ("{…}"): New refuses one without.
	Prefix string

	// Heartbeat is how often the Store counts itself among the members and
	// reads their count. Zero means DefaultHeartbeat.
	Heartbeat time.Duration

	// MemberTTL is how long a Store counts as a member after its last
	// heartbeat. Zero means three heartbeats.
	MemberTTL time.Duration
}

// Validate reports every problem of o, each wrapping ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	if o.Heartbeat < 0 {
		errs = append(errs, fmt.Errorf("%w: Heartbeat %v is negative", ErrInvalidOptions, o.Heartbeat))
	}
	if o.MemberTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: MemberTTL %v is negative", ErrInvalidOptions, o.MemberTTL))
	}
	if d := o.withDefaults(); o.Heartbeat >= 0 && o.MemberTTL > 0 && d.MemberTTL <= d.Heartbeat {
		errs = append(errs, fmt.Errorf("%w: MemberTTL %v is not longer than Heartbeat %v", ErrInvalidOptions, d.MemberTTL, d.Heartbeat))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.MemberTTL == 0 {
		o.MemberTTL = 3 * o.Heartbeat
	}
	return o
}

// A Store is a rebound.Store on Redis. It is safe for concurrent use; New
// makes one, Close stops it.
type Store struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	opts    Options
	id      string // this Store's member name
	// ctxTimeouts is whether rdb itself ends a command when its ctx ends.
	ctxTimeouts bool

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once

	members atomic.Int64

	rmu       sync.Mutex
	raises    map[string]int64 // pending Raise per name: latest until, Unix ms
	raiseKick chan struct{}

	smu      sync.Mutex
	subs     map[uint64]func(string, time.Time)
	nextSub  uint64
	fresh    []uint64             // subscribers still owed the deadlines in force
	inForce  map[string]time.Time // deadlines seen, latest per name
	dispatch map[string]time.Time // deadlines still to hand the subscribers
	dispKick chan struct{}
}

var _ rebound.Store = (*Store)(nil)

// New returns a Store on rdb, which it uses but does not close, and starts
// its background goroutines. It does not wait for Redis: a Store made while
// Redis is away works once Redis is back.
//
// Take returns when its ctx ends only if rdb honours contexts, as it does
// with ContextTimeoutEnabled set in its options; otherwise Take stops
// waiting at ctx's end and leaves its command to rdb's read timeout.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	switch rdb.(type) {
	case *redis.ClusterClient, *redis.Ring:
		// A script's keys must share a slot (a shard): Raise's do only
		// when the prefix holds a hash tag.
		if opts.Prefix == "" {
			opts.Prefix = DefaultClusterPrefix
		} else if !hashTagged(opts.Prefix) {
			return nil, fmt.Errorf("%w: Prefix %q has no hash tag: with a Redis Cluster or Ring, put it in braces, as in %q",
				ErrInvalidOptions, opts.Prefix, "{"+strings.TrimSuffix(opts.Prefix, ":")+"}:")
		}
	}
	var id [12]byte
	if _, err := cryptorand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redisstore: member id: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		rdb:         rdb,
		limiter:     redis_rate.NewLimiter(rdb),
		opts:        opts.withDefaults(),
		id:          hex.EncodeToString(id[:]),
		ctxTimeouts: honoursContext(rdb),
		ctx:         ctx,
		cancel:      cancel,
		raises:      make(map[string]int64),
		raiseKick:   make(chan struct{}, 1),
		subs:        make(map[uint64]func(string, time.Time)),
		inForce:     make(map[string]time.Time),
		dispatch:    make(map[string]time.Time),
		dispKick:    make(chan struct{}, 1),
	}
	s.members.Store(1)
	s.wg.Add(4)
	go s.heartbeatLoop()
	go s.publishLoop()
	go s.subscribeLoop()
	go s.dispatchLoop()
	return s, nil
}

// hashTagged reports whether p holds a Redis Cluster hash tag: a non-empty
// run between its first "{" and the first "}" after it.
func hashTagged(p string) bool {
	_, after, ok := strings.Cut(p, "{")
	if !ok {
		return false
	}
	tag, _, ok := strings.Cut(after, "}")
	return ok && tag != ""
}

func honoursContext(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Close stops the Store's goroutines and removes it from the members. Raises
// not yet sent are dropped. It waits for a command under way, which a client
// without ContextTimeoutEnabled ends only at its read timeout. It does not
// close the Redis client. Close is idempotent.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.cancel()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_ = s.rdb.ZRem(ctx, s.key("members"), s.id).Err() // best effort: the TTL ends it anyway
	})
	return nil
}

func (s *Store) key(parts ...string) string {
	k := s.opts.Prefix
	for _, p := range parts {
		k += p
	}
	return k
}

// Take charges n units against the shared limit l of name if l allows them
// at once, and returns zero; otherwise it charges nothing and returns how
// long to wait before asking again. It is one round trip to Redis, bounded
// by ctx (see New).
func (s *Store) Take(ctx context.Context, name string, l rebound.StoreLimit, n int) (time.Duration, error) {
	if l.Rate <= 0 || l.Burst <= 0 || l.Period <= 0 || n < 1 {
		return 0, fmt.Errorf("%w: %d per %v, burst %d, cost %d", ErrInvalidLimit, l.Rate, l.Period, l.Burst, n)
	}
	if s.ctx.Err() != nil {
		return 0, ErrClosed
	}
	res, err := s.allowN(ctx, name, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period}, n)
	if err != nil {
		return 0, fmt.Errorf("redisstore: take %q: %w", name, err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Nanosecond), nil
}

func (s *Store) allowN(ctx context.Context, name string, l redis_rate.Limit, n int) (*redis_rate.Result, error) {
	key := s.key("rate:", name)
	if s.ctxTimeouts || ctx.Done() == nil {
		return s.limiter.AllowN(ctx, key, l, n)
	}
	// rdb would outlast ctx: stop waiting at its end, and leave the
	// command to the client's read timeout.
	type result struct {
		res *redis_rate.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := s.limiter.AllowN(ctx, key, l, n)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Members returns how many Stores share this one's Redis and prefix, as its
// last heartbeat saw (at least 1). It does not block.
func (s *Store) Members() int {
	return int(max(s.members.Load(), 1))
}

// backoff is a capped exponential backoff with jitter, 100 ms to 2 s.
type backoff struct{ next time.Duration }

// wait sleeps the next backoff; it returns false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = 100 * time.Millisecond
	}
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, 2*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *backoff) reset() { b.next = 0 }
