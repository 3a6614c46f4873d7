package retry

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound/internal/rolling"
)

// Defaults applied by Budget.WithDefaults to zero fields.
const (
	DefaultBudgetRatio      = 0.2
	DefaultBudgetMinRetries = 10
	DefaultBudgetWindow     = 10 * time.Second
)

// budgetBuckets is how many slices a Budget's window is counted in.
const budgetBuckets = rolling.Buckets

// Budget caps retries across all calls of one Transport: over the last Window,
// the retries that did not succeed may number at most Ratio times the calls
// that sent a request (a call refused before it sends pays for none) plus
// MinRetries, and those of one key (host and model) at most Ratio times
// that key's calls plus MinRetries (see Share). Every retry is charged when it is sent, hinted or not,
// and a retry that succeeds is refunded (as the AWS SDKs' retry quota
// refunds a successful retry's cost): when the upstream answers again, the
// callers it failed may all retry, and when it keeps failing, retries stay
// within Ratio of the calls however many callers there are.
// The zero value is the default budget (20% of calls plus 10 per 10 s).
type Budget struct {
	// Disabled turns the budget off: every call may use all its attempts.
	Disabled bool
	// Ratio is the share of recent calls that may be retried. Zero means
	// DefaultBudgetRatio (0.2); otherwise it must be above zero.
	Ratio float64
	// MinRetries is the floor of retries allowed per Window even with little
	// traffic. Zero means DefaultBudgetMinRetries (10).
	MinRetries int
	// Window is how far back calls and retries are counted. Zero means
	// DefaultBudgetWindow (10 s).
	Window time.Duration
}

// Validate reports an invalid field, if any.
func (b Budget) Validate() error {
	switch {
	case b.Ratio < 0 || math.IsNaN(b.Ratio) || math.IsInf(b.Ratio, 0):
		return invalid("Budget.Ratio is %v; want 0 (default %v) or a positive number", b.Ratio, DefaultBudgetRatio)
	case b.MinRetries < 0:
		return invalid("Budget.MinRetries is %d; want 0 (default %d) or more", b.MinRetries, DefaultBudgetMinRetries)
	case b.Window < 0:
		return invalid("Budget.Window is %v; want 0 (default %v) or more", b.Window, DefaultBudgetWindow)
	case b.Window > 0 && b.Window < budgetBuckets*time.Millisecond:
		return invalid("Budget.Window is %v; want at least %v", b.Window, budgetBuckets*time.Millisecond)
	}
	return nil
}

// WithDefaults returns b with every zero field set to its default.
func (b Budget) WithDefaults() Budget {
	if b.Ratio == 0 {
		b.Ratio = DefaultBudgetRatio
	}
	if b.MinRetries == 0 {
		b.MinRetries = DefaultBudgetMinRetries
	}
	if b.Window == 0 {
		b.Window = DefaultBudgetWindow
	}
	return b
}

// BudgetStats are an Account's counters: totals since it was made, and the
// current window's view.
type BudgetStats struct {
	Calls    uint64 // calls recorded (first attempts sent)
	Retries  uint64 // retries granted
	Refunded uint64 // retries refunded because they succeeded
	Denied   uint64 // retries refused because the budget was spent

	WindowCalls   int64 // calls in the current window
	WindowRetries int64 // retries granted in the current window
	WindowAllowed int64 // retries the current window allows in all
}

// Account enforces a Budget. It is safe for concurrent use; Deposit, the
// per-call cost, takes no lock except once per bucket period.
type Account struct {
	ratio         float64
	floor         int64
	window        time.Duration
	windowCalls   rolling.Window
	windowRetries rolling.Window // granted, less refunds

	// withdraw makes Withdraw's check and charge one step, so that
	// concurrent retries cannot all pass the check before any is charged.
	withdraw sync.Mutex

	calls, retries, refunded, denied atomic.Uint64
}

// NewAccount returns an Account for b (zero fields take their defaults).
// It returns nil when b is Disabled; a nil *Account allows every retry.
func NewAccount(b Budget) *Account {
	if b.Disabled {
		return nil
	}
	b = b.WithDefaults()
	a := &Account{ratio: b.Ratio, floor: int64(b.MinRetries), window: b.Window}
	a.windowCalls.Init(b.Window)
	a.windowRetries.Init(b.Window)
	return a
}

// Share is one key's part of an Account (a model's, say). A retry charged
// to a Share must fit in the share's own budget, Ratio of the calls
// deposited to it plus MinRetries, as well as in the Account's: a key that
// keeps failing spends its own calls' retries and the floor, never the
// retries that the other keys' calls bring in, so that one model's fault
// does not stop the others' retries. A nil *Share is no share: the
// Account's bound alone applies. It is safe for concurrent use.
type Share struct {
	calls, retries rolling.Window
}

// NewShare returns a new Share of a; nil when a is nil (no budget).
func (a *Account) NewShare() *Share {
	if a == nil {
		return nil
	}
	s := &Share{}
	s.calls.Init(a.window)
	s.retries.Init(a.window)
	return s
}

// Deposit records one call at now, of s when s is not nil.
func (a *Account) Deposit(s *Share, now time.Time) {
	if a == nil {
		return
	}
	a.calls.Add(1)
	a.windowCalls.Add(now, 1)
	if s != nil {
		s.calls.Add(now, 1)
	}
}

// Withdraw asks for one retry at now, of s when s is not nil, and records
// it if the budget allows.
func (a *Account) Withdraw(s *Share, now time.Time) bool {
	if a == nil {
		return true
	}
	a.withdraw.Lock()
	defer a.withdraw.Unlock()
	calls, retries := a.sum(now)
	if !a.allows(calls, retries) || s != nil && !a.allows(s.calls.Sum(now), s.retries.Sum(now)) {
		a.denied.Add(1)
		return false
	}
	a.windowRetries.Add(now, 1)
	a.retries.Add(1)
	if s != nil {
		s.retries.Add(now, 1)
	}
	return true
}

// allows reports whether one more retry fits beside retries for calls.
func (a *Account) allows(calls, retries int64) bool {
	return float64(retries+1) <= a.ratio*float64(calls)+float64(a.floor)
}

// Refund gives back, at now, one retry that Withdraw granted (of the same
// s) and that succeeded.
func (a *Account) Refund(s *Share, now time.Time) {
	if a == nil {
		return
	}
	a.windowRetries.Add(now, -1)
	a.refunded.Add(1)
	if s != nil {
		s.retries.Add(now, -1)
	}
}

// Stats returns the counters as of now.
func (a *Account) Stats(now time.Time) BudgetStats {
	if a == nil {
		return BudgetStats{}
	}
	calls, retries := a.sum(now)
	return BudgetStats{
		Calls: a.calls.Load(), Retries: a.retries.Load(), Refunded: a.refunded.Load(), Denied: a.denied.Load(),
		WindowCalls: calls, WindowRetries: retries,
		WindowAllowed: a.allowed(calls),
	}
}

// allowed returns the retries a window of calls allows in all, saturating
// at the largest int64 (a huge Ratio or MinRetries is valid).
func (a *Account) allowed(calls int64) int64 {
	f := math.Floor(a.ratio*float64(calls)) + float64(a.floor)
	if f >= math.MaxInt64 { // float64(math.MaxInt64) is 2^63, out of range
		return math.MaxInt64
	}
	return int64(f)
}

// sum returns the calls and the retries, less refunds, of the window ending
// at now.
func (a *Account) sum(now time.Time) (calls, retries int64) {
	return a.windowCalls.Sum(now), a.windowRetries.Sum(now)
}
