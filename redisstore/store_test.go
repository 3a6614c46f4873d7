package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/rebound-http/rebound"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"set", Options{Prefix: "p:", Heartbeat: time.Second, MemberTTL: 5 * time.Second}, true},
		{"negative heartbeat", Options{Heartbeat: -1}, false},
		{"negative ttl", Options{MemberTTL: -1}, false},
		{"ttl not past heartbeat", Options{Heartbeat: time.Second, MemberTTL: time.Second}, false},
		{"ttl under default heartbeat", Options{MemberTTL: 500 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := New(nil, Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New(nil) = %v, want ErrInvalidOptions", err)
	}
}

// take is one step of a Take script: who takes, how much, and whether it
// must wait (and how long, within 1 %).
type take struct {
	store *Store
	n     int
	wait  time.Duration
}

func runTakes(t *testing.T, name string, l rebound.StoreLimit, steps []take) {
	t.Helper()
	for i, st := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := st.store.Take(ctx, name, l, st.n)
		cancel()
		if err != nil {
			t.Fatalf("step %d: Take(%d): %v", i, st.n, err)
		}
		if st.wait == 0 && got != 0 || st.wait > 0 && (got < st.wait*99/100 || got > st.wait) {
			t.Fatalf("step %d: Take(%d) = %v, want %v", i, st.n, got, st.wait)
		}
	}
}

// TestClusterPrefix: with a Redis Cluster (or Ring), Raise's script holds
// two keys, which must share a slot: the default prefix is in braces, and
// a prefix without a hash tag is refused (every Raise failed with
// CROSSSLOT, and nothing told of it).
func TestClusterPrefix(t *testing.T) {
	for p, want := range map[string]bool{"{rebound}:": true, "app:{rb}:": true, "{a}{b}": true,
		"rebound:": false, "{}:": false, "}x{:": false, "{x": false, "": false} {
		if got := hashTagged(p); got != want {
			t.Errorf("hashTagged(%q) = %v; want %v", p, got, want)
		}
	}
	cluster := func() redis.UniversalClient {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	}
	ring := func() redis.UniversalClient {
		return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	}
	plain := func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) }
	for _, tc := range []struct {
		name         string
		rdb          func() redis.UniversalClient
		prefix, want string // want "": refused
	}{
		{"cluster", cluster, "", DefaultClusterPrefix},
		{"cluster", cluster, "{tenant-a}:", "{tenant-a}:"},
		{"cluster", cluster, "rebound:", ""},
		{"ring", ring, "", DefaultClusterPrefix},
		{"ring", ring, "tenant-a:", ""},
		{"client", plain, "", DefaultPrefix},
	} {
		t.Run(fmt.Sprintf("%s;prefix=%q", tc.name, tc.prefix), func(t *testing.T) {
			t.Parallel() // each Close tries the unreachable Redis for up to 500 ms
			rdb := tc.rdb()
			defer rdb.Close()
			s, err := New(rdb, Options{Prefix: tc.prefix})
			switch {
			case tc.want == "" && !errors.Is(err, ErrInvalidOptions):
				t.Errorf("New = %v; want ErrInvalidOptions", err)
			case tc.want != "" && err != nil:
				t.Errorf("New = %v", err)
			case tc.want != "" && s.opts.Prefix != tc.want:
				t.Errorf("the Store uses %q; want %q", s.opts.Prefix, tc.want)
			}
			if s != nil {
				s.Close()
			}
		})
	}
}

func TestTakeSharesOneLimit(t *testing.T) {
	needRedis(t)
	p := Options{Prefix: testPrefix(t)}
	a := newStore(t, newClient(t, redisAddr), p)
	b := newStore(t, newClient(t, redisAddr), p)
	// 10 a minute, 10 at once: an emission every 6 s.
	l := rebound.StoreLimit{Rate: 10, Burst: 10, Period: time.Minute}
	var steps []take
	for i := range 10 {
		steps = append(steps, take{[]*Store{a, b}[i%2], 1, 0})
	}
	steps = append(steps, take{b, 1, 6 * time.Second}, take{a, 1, 6 * time.Second})
	runTakes(t, "model", l, steps)
	runTakes(t, "other-model", l, []take{{a, 1, 0}}) // names do not share
}

func TestTakeCost(t *testing.T) {
	needRedis(t)
	p := Options{Prefix: testPrefix(t)}
	a := newStore(t, newClient(t, redisAddr), p)
	b := newStore(t, newClient(t, redisAddr), p)
	l := rebound.StoreLimit{Rate: 10, Burst: 10, Period: time.Minute}
	runTakes(t, "tokens", l, []take{
		{a, 4, 0},
		{b, 4, 0},
		{a, 4, 12 * time.Second}, // 2 left, 4 asked: two emissions short
		{b, 2, 0},                // what is left goes
		{a, 1, 6 * time.Second},
		{b, 11, 66 * time.Second}, // more than the burst: never at once
	})
	for _, bad := range []struct {
		l rebound.StoreLimit
		n int
	}{
		{rebound.StoreLimit{Rate: 0, Burst: 1, Period: time.Second}, 1},
		{rebound.StoreLimit{Rate: 1, Burst: 0, Period: time.Second}, 1},
		{rebound.StoreLimit{Rate: 1, Burst: 1, Period: 0}, 1},
		{l, 0},
	} {
		if _, err := a.Take(context.Background(), "tokens", bad.l, bad.n); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("Take(%+v, %d) = %v, want ErrInvalidLimit", bad.l, bad.n, err)
		}
	}
}

func getDeadline(t *testing.T, rdb *redis.Client, s *Store, name string) int64 {
	t.Helper()
	v, err := rdb.Get(context.Background(), s.key("deadline:", name)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

// A later writer with an earlier deadline must not shorten a hold (the bug
// of LiteLLM #40130).
func TestRaiseOnlyMovesLater(t *testing.T) {
	needRedis(t)
	rdb := newClient(t, redisAddr)
	p := Options{Prefix: testPrefix(t)}
	a := newStore(t, rdb, p)
	b := newStore(t, newClient(t, redisAddr), p)
	ctx := context.Background()
	base := time.Now().Add(time.Minute).UnixMilli()
	for i, st := range []struct {
		s     *Store
		until int64
		moved bool
		want  int64
	}{
		{a, base, true, base},
		{b, base - 30_000, false, base}, // earlier: the hold stays
		{b, base, false, base},
		{a, base + 1000, true, base + 1000},
		{b, time.Now().Add(-time.Second).UnixMilli(), false, base + 1000}, // past
	} {
		moved, err := st.s.raise(ctx, "model", st.until)
		if err != nil {
			t.Fatal(err)
		}
		if got := getDeadline(t, rdb, a, "model"); moved != st.moved || got != st.want {
			t.Fatalf("step %d: raise(%d) moved=%v, deadline %d; want moved=%v, %d", i, st.until, moved, got, st.moved, st.want)
		}
	}
	// It expires at the deadline.
	if ttl := rdb.PTTL(ctx, a.key("deadline:", "model")).Val(); ttl < 55*time.Second || ttl > 62*time.Second {
		t.Fatalf("PTTL = %v, want about a minute", ttl)
	}
	if moved, _ := a.raise(ctx, "fresh", time.Now().Add(-time.Second).UnixMilli()); moved || getDeadline(t, rdb, a, "fresh") != 0 {
		t.Fatal("a past deadline was stored")
	}
}

func TestRaiseConcurrentEndsAtMax(t *testing.T) {
	needRedis(t)
	rdb := newClient(t, redisAddr)
	p := Options{Prefix: testPrefix(t)}
	stores := []*Store{newStore(t, rdb, p), newStore(t, newClient(t, redisAddr), p), newStore(t, newClient(t, redisAddr), p)}
	base := time.Now().Add(time.Minute).Truncate(time.Millisecond) // raise and Raise agree
	var (
		mu   sync.Mutex
		want time.Time
		wg   sync.WaitGroup
	)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range 50 {
				until := base.Add(time.Duration(r.IntN(60_000)) * time.Millisecond)
				mu.Lock()
				if until.After(want) {
					want = until
				}
				mu.Unlock()
				if i == 0 {
					s.Raise("model", until) // through the publisher
				} else if _, err := s.raise(context.Background(), "model", until.UnixMilli()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, 2*time.Second, "deadline at the max", func() bool {
		return getDeadline(t, rdb, stores[0], "model") == raisedMilli(want)
	})
}

func TestSubscribeDelivers(t *testing.T) {
	needRedis(t)
	p := Options{Prefix: testPrefix(t)}
	a := newStore(t, newClient(t, redisAddr), p)
	b := newStore(t, newClient(t, redisAddr), p)
	gotB, fB := recorder()
	gotA, fA := recorder()
	defer b.Subscribe(fB)()
	defer a.Subscribe(fA)()

	warm := time.Now().Add(time.Minute)
	a.Raise("warm-up", warm) // both subscriptions are up once it is heard
	await(t, gotB, "warm-up", warm, 5*time.Second)
	await(t, gotA, "warm-up", warm, 5*time.Second)

	until := time.Now().Add(time.Minute)
	a.Raise("model", until)
	await(t, gotB, "model", until, 100*time.Millisecond)
	await(t, gotA, "model", until, 100*time.Millisecond) // its own too
}

func TestSubscribeReplaysDeadlinesInForce(t *testing.T) {
	needRedis(t)
	rdb := newClient(t, redisAddr)
	p := Options{Prefix: testPrefix(t)}
	a := newStore(t, rdb, p)
	held := time.Now().Add(time.Minute)
	a.Raise("held", held)
	eventually(t, 2*time.Second, "deadline stored", func() bool {
		return getDeadline(t, rdb, a, "held") == raisedMilli(held)
	})

	// A Store that starts late is told.
	late := newStore(t, newClient(t, redisAddr), p)
	got1, f1 := recorder()
	cancel1 := late.Subscribe(f1)
	await(t, got1, "held", held, 5*time.Second)

	// A subscriber that comes late to a running Store is told too.
	got2, f2 := recorder()
	defer late.Subscribe(f2)()
	await(t, got2, "held", held, time.Second)

	// A cancelled subscriber is told nothing more.
	cancel1()
	next := time.Now().Add(time.Minute)
	a.Raise("next", next)
	await(t, got2, "next", next, 5*time.Second)
	for len(got1) > 0 {
		if d := <-got1; d.name == "next" {
			t.Fatal("a cancelled subscriber was called")
		}
	}
}

// TestSubscribeCancelStopsCalls: a subscriber cancelled while another's
// call of the same deadline is under way is not called after its cancel
// returned (the calls of a deadline are gathered first, then made).
func TestSubscribeCancelStopsCalls(t *testing.T) {
	needRedis(t)
	s := newStore(t, newClient(t, redisAddr), Options{Prefix: testPrefix(t)})
	type heard struct {
		sub  int
		name string
	}
	called := make(chan heard, 16)
	entered := make(chan int, 1)
	release := make(chan struct{})
	var cancels [2]func()
	for i := range cancels {
		cancels[i] = s.Subscribe(func(name string, _ time.Time) {
			called <- heard{i, name}
			if name == "first" {
				select {
				case entered <- i:
				default:
				}
				<-release
			}
		})
	}
	s.deliver("first", time.Now().Add(time.Minute))
	under := <-entered // one subscriber's call is under way, the dispatcher held in it
	other := 1 - under
	for len(called) > 0 {
		<-called // made before the cancel: other's call may have come first
	}
	cancels[other]()
	close(release)
	// Deadlines are told in turn: once the second is heard, the first's
	// calls are all made.
	s.deliver("second", time.Now().Add(time.Minute))
	timeout := time.After(5 * time.Second)
	for {
		select {
		case h := <-called:
			if h.sub == other {
				t.Fatalf("subscriber %d called with %q after its cancel returned", other, h.name)
			}
			if h.name == "second" {
				return
			}
		case <-timeout:
			t.Fatal("the second deadline was never told")
		}
	}
}

func TestMembers(t *testing.T) {
	needRedis(t)
	p := Options{Prefix: testPrefix(t), Heartbeat: 50 * time.Millisecond, MemberTTL: time.Second}
	a := newStore(t, newClient(t, redisAddr), p)
	b := newStore(t, newClient(t, redisAddr), p)
	if a.Members() < 1 {
		t.Fatalf("Members() = %d before a heartbeat, want ≥ 1", a.Members())
	}
	eventually(t, 3*time.Second, "both count two", func() bool { return a.Members() == 2 && b.Members() == 2 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "one left after Close", func() bool { return a.Members() == 1 })
}

func TestClose(t *testing.T) {
	needRedis(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	s, err := New(rdb, Options{Prefix: testPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	got, f := recorder()
	s.Subscribe(f)
	until := time.Now().Add(time.Minute)
	s.Raise("model", until)
	await(t, got, "model", until, 5*time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Take(context.Background(), "model", rebound.StoreLimit{Rate: 1, Burst: 1, Period: time.Second}, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Take after Close = %v, want ErrClosed", err)
	}
	s.Raise("model", until.Add(time.Second)) // a no-op, not a panic
}
