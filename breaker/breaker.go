package breaker

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound/internal/registry"
	"github.com/rebound-http/rebound/internal/rolling"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen is the error every rejection matches with errors.Is: the key's
// breaker is open, or half-open with all of its probes in flight.
var ErrOpen = errors.New("breaker: circuit open")

// OpenError is the error Allow returns when a key's breaker rejects a
// request. errors.Is(err, ErrOpen) reports true for it.
//
// The same *OpenError may be returned to many callers; treat it as
// read-only.
type OpenError struct {
	// Key is the key whose breaker rejected the request.
	Key string
	// State is Open, or HalfOpen when the breaker is half-open and all of
	// its probes are in flight.
	State State
	// Until is when an open breaker turns half-open, by the wall clock.
	// It is the zero time when State is HalfOpen: the breaker closes or
	// opens again as soon as its probes report.
	Until time.Time
}

// Error returns a message naming the key, such as
// `breaker: circuit open for key "api.example.com/gpt-4o"`.
func (e *OpenError) Error() string {
	if e.State == HalfOpen {
		return "breaker: circuit half-open for key " + strconv.Quote(e.Key) + ", all probes in flight"
	}
	return "breaker: circuit open for key " + strconv.Quote(e.Key)
}

// Is reports whether target is ErrOpen.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// State is the state of one key's breaker. Its values mirror gobreaker's.
type State int

// The states of a breaker.
const (
	// Closed lets every request through and counts their outcomes.
	Closed = State(gobreaker.StateClosed)
	// HalfOpen lets Settings.HalfOpenProbes requests through to test the
	// upstream.
	HalfOpen = State(gobreaker.StateHalfOpen)
	// Open rejects every request until Settings.OpenTimeout has passed.
	Open = State(gobreaker.StateOpen)
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Outcome is what the caller of Allow reports once the request is done.
type Outcome uint8

// The outcomes of a request.
const (
	// Success counts for the upstream: it lowers the failure ratio, and
	// a half-open breaker closes once its probes all succeed.
	Success Outcome = iota
	// Failure counts towards tripping the breaker. Any value not named
	// here counts as a Failure too.
	Failure
	// Excluded counts neither way: the request says nothing about the
	// upstream's health (it was cancelled, never sent, or refused for the
	// caller's own reasons: a 4xx, a 429). An Excluded probe frees its
	// place for another.
	Excluded
)

// String returns "success", "failure" or "excluded".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Excluded:
		return "excluded"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Errors that carry an Outcome into gobreaker's done callback.
var (
	errFailure  = errors.New("breaker: failure")
	errExcluded = errors.New("breaker: excluded")
)

func (o Outcome) err() error {
	switch o {
	case Success:
		return nil
	case Excluded:
		return errExcluded
	}
	return errFailure
}

func isExcluded(err error) bool { return err == errExcluded }

// Set holds one circuit breaker per key, created on first use.
//
// The zero Set allows every request, as if Settings.Disabled were set;
// New builds a working one. A Set is safe for concurrent use by multiple
// goroutines.
type Set struct {
	reg      *registry.Map[*breaker] // nil when disabled
	gs       gobreaker.Settings      // template for each key's breaker
	window   time.Duration
	ratio    float64
	minimum  uint64
	run      uint64 // failures in a row that trip a breaker
	onChange func(key string, from, to State)
}

// New returns a Set configured by s, with the defaults of Settings applied
// to its zero fields, or the error of s.Validate.
func New(s Settings) (*Set, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Disabled {
		return &Set{}, nil
	}
	s = s.WithDefaults()
	period := s.bucketPeriod()
	set := &Set{
		gs: gobreaker.Settings{
			MaxRequests:  s.HalfOpenProbes,
			Interval:     period * time.Duration(s.Buckets),
			BucketPeriod: period,
			Timeout:      s.OpenTimeout,
			IsExcluded:   isExcluded,
		},
		window:   period * time.Duration(s.Buckets),
		ratio:    s.FailureRatio,
		minimum:  uint64(s.MinRequests),
		run:      runToTrip(s.FailureRatio),
		onChange: s.OnStateChange,
	}
	set.reg = registry.New(s.MaxKeys, s.IdleTTL, set.newBreaker)
	return set, nil
}

// clock returns now if it is a reading of this process's clock, that is, if
// it carries a monotonic reading, and time.Now() if not.
func clock(now time.Time) time.Time {
	if now != now.Round(0) { // Round(0) strips the monotonic reading
		return now
	}
	return time.Now()
}

// A Ticket is a breaker's permission for one request. Report the request's
// outcome with Done exactly once; a request whose Done is never called holds
// one of a half-open breaker's probes forever. The zero Ticket, which a Set
// that keeps no breakers grants, ignores Done.
type Ticket struct {
	b      *breaker
	report func(error) // gobreaker's; nil for a closed breaker's ticket
	at     time.Time   // when a closed breaker let the request through
}

// Probe reports whether the Ticket is one of a half-open breaker's probes
// (or was granted while the breaker was leaving Open).
func (t Ticket) Probe() bool { return t.report != nil }

// Done reports the outcome of the request the Ticket let through.
func (t Ticket) Done(o Outcome) {
	switch {
	case t.b == nil:
		return
	case t.report != nil:
		t.report(o.err())
	case o == Success:
		// A closed breaker counts its successes itself: gobreaker needs
		// them only to weigh the failures, which go to it below.
		t.b.successes.Add(t.at, 1)
		if t.b.run.Load() != 0 {
			t.b.run.Store(0)
		}
		return
	case o == Excluded:
		return
	default:
		t.b.run.Add(1)
		if report, err := t.b.cb.Allow(); err == nil {
			report(errFailure)
		}
	}
	t.b.deliver()
}

// Allow asks the breaker of key whether a request may be sent now. If so, it
// returns a Ticket whose Done the caller must call once the request's
// Outcome is known. If not, it returns an *OpenError, and no request should
// be sent.
//
// now is the time of the call, normally time.Now(); the Set uses it to tell
// which breakers are idle. The breakers themselves run on the wall clock,
// which gobreaker reads: when now carries a monotonic clock reading (see the
// time package), as time.Now's results do, Allow takes it for the clock's
// and rejects requests to an open breaker until its OpenError.Until without
// reading the clock again; otherwise (a test's fake clock, say) it reads
// the clock.
func (s *Set) Allow(key string, now time.Time) (Ticket, error) {
	if s.reg == nil {
		return Ticket{}, nil
	}
	b := s.reg.Get(key, now)
	if b.closed.Load() {
		// Closed: gobreaker would let it through; its outcome is weighed
		// when it is reported.
		return Ticket{b: b, at: now}, nil
	}
	if e := b.open.Load(); e != nil && clock(now).Before(e.Until) {
		// Open and not yet due for half-open: gobreaker would reject too,
		// without changing anything, so spare its lock.
		return Ticket{}, e
	}
	report, err := b.cb.Allow()
	b.deliver()
	if err != nil {
		return Ticket{}, b.rejection(err)
	}
	return Ticket{b: b, report: report}, nil
}

// OpenUntil reports whether key's breaker is open and, if so, when it will
// let probes through (a time that may have passed: the breaker turns
// half-open on its next use). It takes no lock.
func (s *Set) OpenUntil(key string) (time.Time, bool) {
	if s.reg == nil {
		return time.Time{}, false
	}
	b, ok := s.reg.Peek(key)
	if !ok {
		return time.Time{}, false
	}
	if e := b.open.Load(); e != nil {
		return e.Until, true
	}
	return time.Time{}, false
}

// State returns the state of key's breaker: Closed for a key the Set does not
// hold. An open breaker whose OpenTimeout has passed turns half-open here.
func (s *Set) State(key string) State {
	if s.reg == nil {
		return Closed
	}
	b, ok := s.reg.Peek(key)
	if !ok {
		return Closed
	}
	st := State(b.cb.State())
	b.deliver()
	return st
}

// Len returns how many breakers the Set holds.
func (s *Set) Len() int {
	if s.reg == nil {
		return 0
	}
	return s.reg.Len()
}

// breaker is one key's circuit breaker and the state changes it has yet to
// deliver to Settings.OnStateChange.
type breaker struct {
	key      string
	set      *Set
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	open     atomic.Pointer[OpenError] // rejection while open; nil while not open
	probeErr *OpenError                // rejection while half-open with all probes out
	closed   atomic.Bool               // gobreaker is closed
	// successes counts the successes reported while closed, which
	// gobreaker does not see (see Ticket.Done).
	successes rolling.Window
	// run counts the failures reported in a row while closed.
	run atomic.Uint64

	pending    atomic.Bool // len(changes) > 0; read without mu on the hot path
	mu         sync.Mutex  // guards changes and delivering
	changes    []change
	delivering bool // a goroutine is calling OnStateChange for this key
}

type change struct{ from, to State }

// newBreaker builds the breaker of key; the registry calls it on first use.
func (s *Set) newBreaker(key string) *breaker {
	b := &breaker{
		key:      key,
		set:      s,
		probeErr: &OpenError{Key: key, State: HalfOpen},
	}
	b.closed.Store(true)
	b.successes.Init(s.window)
	gs := s.gs
	gs.Name = key
	gs.OnStateChange = b.record
	gs.ReadyToTrip = b.readyToTrip
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gs)
	return b
}

// tripZ is how many standard errors the failure ratio's confidence bound
// lies below the observed ratio: a breaker trips only when the Wilson score
// lower bound of its failure ratio reaches FailureRatio, so that failures
// that merely fluctuate around a lower ratio almost never trip it (three
// standard errors: about one chance in 700 per check).
const tripZ = 3

// readyToTrip is gobreaker's ReadyToTrip for b: it trips once the window
// holds MinRequests outcomes and either all of them failed, or the failure
// ratio has reached FailureRatio beyond doubt, or the last outcomes failed
// in a run that failures at FailureRatio would hardly make (see runToTrip).
// c holds the failures (and any half-open successes); the successes of the
// closed state are b's own.
func (b *breaker) readyToTrip(c gobreaker.Counts) bool {
	fails := uint64(c.TotalFailures)
	n := fails + uint64(c.TotalSuccesses) + uint64(max(b.successes.Sum(time.Now()), 0))
	s := b.set
	return n >= s.minimum && (fails == n || b.run.Load() >= s.run || wilsonLower(fails, n, tripZ) >= s.ratio)
}

// runToTrip returns the shortest run of failures in a row that failures
// coming independently at ratio would make with a chance under one in a
// million (20 at 0.5, 10 at 0.25): such a run says the upstream has just
// gone down, however many successes the window still holds from before.
func runToTrip(ratio float64) uint64 {
	if ratio >= 1 {
		return math.MaxUint64
	}
	return uint64(math.Ceil(math.Log(1e-6) / math.Log(ratio)))
}

// wilsonLower returns the lower bound of the Wilson score interval of a
// ratio of k in n at z standard errors.
func wilsonLower(k, n uint64, z float64) float64 {
	if n == 0 {
		return 0
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	centre := p + z2/(2*nf)
	spread := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return (centre - spread) / (1 + z2/nf)
}

// rejection turns gobreaker's rejection into an *OpenError without
// allocating.
func (b *breaker) rejection(err error) error {
	if err == gobreaker.ErrTooManyRequests {
		return b.probeErr
	}
	if e := b.open.Load(); e != nil {
		return e
	}
	// The breaker left Open since gobreaker rejected the request.
	return &OpenError{Key: b.key, State: Open}
}

// record is gobreaker's OnStateChange. gobreaker calls it with its lock
// held, so it only notes the change; deliver hands it on.
func (b *breaker) record(_ string, from, to gobreaker.State) {
	b.closed.Store(to == gobreaker.StateClosed)
	if to == gobreaker.StateClosed {
		b.successes.Reset()
	}
	switch {
	case to == gobreaker.StateOpen:
		// gobreaker read the clock before calling here, so Until is not
		// before the moment it will let probes through.
		b.open.Store(&OpenError{Key: b.key, State: Open, Until: time.Now().Add(b.set.gs.Timeout)})
	case from == gobreaker.StateOpen:
		b.open.Store(nil)
	}
	if b.set.onChange == nil {
		return
	}
	b.mu.Lock()
	b.changes = append(b.changes, change{State(from), State(to)})
	b.pending.Store(true)
	b.mu.Unlock()
}

// deliver calls OnStateChange for the recorded changes, in order, unless
// another goroutine is already doing so (it will deliver these too).
func (b *breaker) deliver() {
	if !b.pending.Load() {
		return
	}
	b.mu.Lock()
	if b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	finished := false
	defer func() {
		if !finished { // OnStateChange panicked: let the next caller deliver
			b.mu.Lock()
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	for len(b.changes) > 0 {
		batch := b.changes
		b.changes = nil
		b.pending.Store(false)
		b.mu.Unlock()
		for _, c := range batch {
			b.set.onChange(b.key, c.from, c.to)
		}
		b.mu.Lock()
	}
	b.delivering = false
	finished = true
	b.mu.Unlock()
}
