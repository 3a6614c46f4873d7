package gate

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rebound-http/rebound/classify"
)

// TestFastSlotsAreTheLockedOnes admits the same calls, answered with the
// same headers, through a key whose calls may take their slots without the
// quota's lock and through one whose calls never do: every admission must
// be the same. The load moves between a third of the quota and half again
// above it, so that the quota is far from spent at times (slots are taken
// without the lock) and near it at others (calls wait, under the lock).
func TestFastSlotsAreTheLockedOnes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		bucket, tokens bool
	}{{"window", false, true}, {"bucket", true, true}, {"requests-only", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 4; seed++ {
				fast, waited := fastSlotsRun(t, seed, tc.bucket, tc.tokens)
				// Both ways must have been taken, or the test shows nothing.
				if fast < 200 || waited < 50 {
					t.Fatalf("seed %d: %d calls took their slot without the lock, %d waited; want both", seed, fast, waited)
				}
			}
		})
	}
}

// providerLane is a provider's quota of one kind: a window of limit units
// that comes back whole every span, or a bucket of limit refilled over span.
type providerLane struct {
	limit  float64
	span   time.Duration
	bucket bool
	used   float64 // window: charged in the current one; bucket: missing
	start  time.Time
	last   time.Time
}

func (p *providerLane) advance(now time.Time) {
	if p.bucket {
		p.used = max(p.used-p.limit*float64(now.Sub(p.last))/float64(p.span), 0)
		p.last = now
		return
	}
	for !now.Before(p.start.Add(p.span)) {
		p.start, p.used = p.start.Add(p.span), 0
	}
}

func (p *providerLane) charge(now time.Time, units float64) {
	p.advance(now)
	p.used += units
}

func (p *providerLane) tell(now time.Time) classify.Window {
	p.advance(now)
	left := int64(max(p.limit-p.used, 0))
	reset := p.start.Add(p.span).Sub(now)
	if p.bucket {
		reset = time.Duration(p.used / p.limit * float64(p.span))
	}
	return told(left, int64(p.limit), reset)
}

// fastEvent is a call's next step in fastSlotsRun: its send, once its
// slot comes, or its answer.
type fastEvent struct {
	at     time.Time
	seq    int
	answer bool
	cost   int64
	a, b   *Ticket
}

type fastEvents []*fastEvent

func (h fastEvents) Len() int { return len(h) }
func (h fastEvents) Less(i, j int) bool {
	return h[i].at.Before(h[j].at) || h[i].at.Equal(h[j].at) && h[i].seq < h[j].seq
}
func (h fastEvents) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *fastEvents) Push(x any)   { *h = append(*h, x.(*fastEvent)) }
func (h *fastEvents) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// fastSlotsRun is one run of TestFastSlotsAreTheLockedOnes; it returns how
// many calls of the first key took their slot at once while its view was
// published, and how many waited for one.
func fastSlotsRun(t *testing.T, seed uint64, bucket, tokens bool) (fast, waited int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	c := newClock()
	sa, sb := newSet(t, c, Config{}), newSet(t, c, Config{})
	ga, gb := sa.Get("h/m", c.now), sb.Get("h/m", c.now)
	gb.quota.noFast = true
	req := &providerLane{limit: 600, span: 300 * time.Millisecond, bucket: bucket, start: c.now, last: c.now}
	tok := &providerLane{limit: 300000, span: 500 * time.Millisecond, bucket: bucket, start: c.now, last: c.now}
	var events fastEvents
	seq := 0
	push := func(e *fastEvent) {
		seq++
		e.seq = seq
		heap.Push(&events, e)
	}
	end := c.now.Add(6 * time.Second)
	next := c.now
	same := func(step string, x, y Admission) {
		t.Helper()
		if x.Verdict != y.Verdict || x.Delay != y.Delay || x.Cause != y.Cause || fmt.Sprint(x.Err) != fmt.Sprint(y.Err) {
			t.Fatalf("seed %d, %s at %v: %v %v %v %v without the lock, %v %v %v %v with it", seed, step, c.now.Sub(newClock().now),
				x.Verdict, x.Delay, x.Cause, x.Err, y.Verdict, y.Delay, y.Cause, y.Err)
		}
	}
	send := func(e *fastEvent) {
		req.charge(c.now, 1)
		if tokens {
			tok.charge(c.now, 1.4*float64(e.cost)) // more than estimated: what is left binds
		}
		e.answer, e.at = true, c.now.Add(time.Duration(2+rng.IntN(40))*time.Millisecond)
		push(e)
	}
	for c.now.Before(end) || len(events) > 0 {
		if len(events) > 0 && (!events[0].at.After(next) || !c.now.Before(end)) {
			e := heap.Pop(&events).(*fastEvent)
			c.now = e.at
			if !e.answer {
				// Its slot has come: sent, unless it no longer fits.
				fa, fb := e.a.Fits(c.now), e.b.Fits(c.now)
				if fa != fb {
					t.Fatalf("seed %d: Fits %v without the lock, %v with it", seed, fa, fb)
				}
				if !fa || rng.IntN(10) == 0 {
					sa.Cancel(e.a, c.now)
					sb.Cancel(e.b, c.now)
					continue
				}
				e.a.Sending(c.now)
				e.b.Sending(c.now)
				send(e)
				continue
			}
			if due := e.a.QuotaDue(); due != e.b.QuotaDue() {
				t.Fatalf("seed %d: QuotaDue differs", seed)
			} else if due {
				q := classify.Quota{Requests: req.tell(c.now)}
				if tokens {
					q.Tokens = tok.tell(c.now)
				}
				e.a.Observe(q, c.now, false)
				e.b.Observe(q, c.now, false)
			}
			sa.Report(e.a, ok200, nil, false, c.now)
			sb.Report(e.b, ok200, nil, false, c.now)
			continue
		}
		// The next call: the load moves every 400 ms between a third of
		// the quota's rate and half again above it.
		c.now = next
		factor := [...]float64{0.3, 1.5, 0.8, 0.4, 1.2}[int(c.now.Sub(newClock().now)/(400*time.Millisecond))%5]
		rate := req.limit / req.span.Seconds() * factor
		next = c.now.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		r := Request{Attempt: 1}
		if tokens {
			r.Cost = int64(50 + rng.IntN(700))
		}
		switch rng.IntN(3) {
		case 0:
			r.Deadline = c.In(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		case 1:
			r.Deadline = c.In(2 * time.Second)
		}
		published := ga.quota.view.Load() != nil
		x, y := sa.Admit(ga, c.now, r), sb.Admit(gb, c.now, r)
		same("admission", x, y)
		if x.Verdict != Send {
			continue
		}
		e := &fastEvent{cost: r.Cost, a: &x.Ticket, b: &y.Ticket}
		if x.Delay > 0 {
			waited++
			e.at = c.now.Add(x.Delay)
			push(e)
			continue
		}
		if published {
			fast++
		}
		send(e)
	}
	return fast, waited
}

// TestFastSlotsUnderConcurrency has goroutines take a told quota's slots at
// once, at one instant, with and without the lock: as many go at once as
// the schedule's burst, however the calls interleave.
func TestFastSlotsUnderConcurrency(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	// 3000 requests left of 3000 for a minute: a tenth of them at once.
	observe(t, s, g, c.now, classify.Quota{Requests: told(3000, 3000, time.Minute)})
	if g.quota.view.Load() == nil {
		t.Fatal("no view published for a quota far from spent")
	}
	burst := int(math.Round(g.quota.req.burst))
	const workers, each = 8, 100
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		atOnce  int
		tickets []*Ticket
	)
	start := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range each {
				a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
				mu.Lock()
				if a.Verdict == Send && a.Delay == 0 {
					atOnce++
				}
				tickets = append(tickets, &a.Ticket)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if atOnce != burst {
		t.Fatalf("%d calls went at once, want the burst, %d", atOnce, burst)
	}
	// Cancelled from the latest slot back, every slot is given back: the
	// burst goes at once again.
	slices.SortFunc(tickets, func(x, y *Ticket) int { return cmp.Compare(y.quota.tatReq, x.quota.tatReq) })
	for _, tk := range tickets {
		s.Cancel(tk, c.now)
	}
	for i := range burst {
		if a := s.Admit(g, c.now, Request{Attempt: 1}); a.Verdict != Send || a.Delay != 0 {
			t.Fatalf("call %d after all were cancelled: %+v, want at once", i, a)
		}
	}
}

// TestFastSlotsKeepWithinWhatIsLeft: where what the latest answer said is
// left, less what was sent after its request, has no room for a call, the
// call does not take its slot without the lock, though the schedule has
// one; it is given what the lock gives.
func TestFastSlotsKeepWithinWhatIsLeft(t *testing.T) {
	c := newClock()
	var got [2]Admission
	for i, noFast := range []bool{false, true} {
		s := newSet(t, c, Config{})
		g := s.Get("h/m", c.now)
		g.quota.noFast = noFast
		// The first answer starts the count of what is sent; the second,
		// of a request counted, is what is left after it.
		observe(t, s, g, c.now, classify.Quota{Requests: told(3000, 3000, time.Minute)})
		observe(t, s, g, c.now, classify.Quota{Requests: told(2999, 3000, time.Minute)})
		if published := g.quota.view.Load() != nil; published == noFast {
			t.Fatalf("noFast %v: view published %v", noFast, published)
		}
		// As if 2999 more were sent since the answer's request, counted
		// but not by the schedule: nothing is left.
		g.quota.req.sent.Add(2999)
		got[i] = s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(2 * time.Minute)})
	}
	fast, locked := got[0], got[1]
	if fast.Verdict != locked.Verdict || fast.Delay != locked.Delay || fast.Cause != locked.Cause {
		t.Fatalf("without the lock %+v, with it %+v", fast, locked)
	}
	if fast.Verdict == Send && fast.Delay == 0 {
		t.Fatalf("a call went at once with nothing left: %+v", fast)
	}
}

// TestFastViewIsPublishedAgainWithoutAllocating: calls that wait for their
// slots take them under the lock, and publish the view again after; where
// nothing it holds changed, that costs no allocation.
func TestFastViewIsPublishedAgainWithoutAllocating(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	observe(t, s, g, c.now, classify.Quota{Requests: told(3000, 3000, time.Minute)})
	for range int(math.Round(g.quota.req.burst)) {
		s.Admit(g, c.now, Request{Attempt: 1}) // the burst, at once
	}
	v := g.quota.view.Load()
	allocs := testing.AllocsPerRun(100, func() {
		if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)}); a.Verdict != Send || a.Delay == 0 {
			t.Fatalf("after the burst: %+v, want a wait for a slot", a)
		}
	})
	if allocs != 0 || g.quota.view.Load() != v {
		t.Fatalf("%v allocations per waiting call, view published again: %v; want none, the same view", allocs, g.quota.view.Load() == v)
	}
}
