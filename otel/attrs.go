package reboundotel

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
)

// The attribute keys of the rebound namespace.
const (
	verdictKey       = attribute.Key("rebound.verdict")
	evidenceKey      = attribute.Key("rebound.evidence")
	codeKey          = attribute.Key("rebound.error.code")
	reasonKey        = attribute.Key("rebound.give_up.reason")
	causeKey         = attribute.Key("rebound.wait.cause")
	stateKey         = attribute.Key("rebound.breaker.state")
	previousStateKey = attribute.Key("rebound.breaker.previous_state")
	attemptKey       = attribute.Key("rebound.attempt")
	attemptsKey      = attribute.Key("rebound.attempts")
	durationKey      = attribute.Key("rebound.attempt.duration")
	waitKey          = attribute.Key("rebound.wait.duration")
	retryAfterKey    = attribute.Key("rebound.retry_after")
	requestIDKey     = attribute.Key("rebound.request_id")
	fallbackToKey    = attribute.Key("rebound.fallback.to")
	fallbackWhyKey   = attribute.Key("rebound.fallback.reason")
	alternativeKey   = attribute.Key("rebound.fallback.alternative")
)

// other is the value that stands for every value past a cardinality bound,
// as in OpenTelemetry's conventions.
const other = "_OTHER"

const (
	// DefaultMaxKeys is Config.MaxKeys when it is zero.
	DefaultMaxKeys = 100
	// maxCodes bounds the distinct provider error codes recorded.
	maxCodes = 64
	// maxCodeLen: a longer code is not a code.
	maxCodeLen = 64
	// maxSets bounds the attribute sets cached per key; past it sets are
	// built per use (statuses are bounded to 0–999, so it takes a strange
	// upstream to get there).
	maxSets = 512
)

// set is one attribute set, ready to pass to an instrument without
// allocating.
type set struct {
	add []metric.AddOption
	rec []metric.RecordOption
	obs []metric.ObserveOption
}

func newSet(kvs ...attribute.KeyValue) *set {
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return &set{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}, obs: []metric.ObserveOption{o}}
}

// setID names one of a key's attribute sets.
type setID struct {
	kind   setKind
	status int
	a, b   uint8  // verdict; reason; cause; states
	code   string // the provider's code; the fallback's alternative
}

type setKind uint8

const (
	attemptSet setKind = iota
	retrySet
	giveUpSet
	waitSet
	transitionSet
	stateSet
	fallbackSet
	baseSet
)

// keyAttrs holds one key's attributes and its cached sets. Lookups take no
// lock: the map is replaced, never changed, under mu.
type keyAttrs struct {
	base []attribute.KeyValue // server.address, server.port, gen_ai.request.model
	own  bool                 // false for the "_OTHER" entry
	mu   sync.Mutex
	sets atomic.Pointer[map[setID]*set]
}

func newKeyAttrs(host, model string, own bool) *keyAttrs {
	host, model = clean(host), clean(model)
	var base []attribute.KeyValue
	if h, p, err := net.SplitHostPort(host); err == nil {
		base = append(base, semconv.ServerAddress(h))
		if port, err := strconv.Atoi(p); err == nil {
			base = append(base, semconv.ServerPort(port))
		}
	} else {
		base = append(base, semconv.ServerAddress(strings.Trim(host, "[]")))
	}
	if model != "" {
		base = append(base, semconv.GenAIRequestModel(model))
	}
	k := &keyAttrs{base: base, own: own}
	k.sets.Store(&map[setID]*set{})
	return k
}

// set returns the key's attribute set id, building it on first use.
func (k *keyAttrs) set(id setID) *set {
	if s, ok := (*k.sets.Load())[id]; ok {
		return s
	}
	return k.add(id)
}

func (k *keyAttrs) add(id setID) *set {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := *k.sets.Load()
	if s, ok := old[id]; ok {
		return s
	}
	s := newSet(k.attrs(id)...)
	if len(old) >= maxSets {
		return s
	}
	m := make(map[setID]*set, len(old)+1)
	for i, v := range old {
		m[i] = v
	}
	m[id] = s
	k.sets.Store(&m)
	return s
}

// attrs returns the attributes of set id.
func (k *keyAttrs) attrs(id setID) []attribute.KeyValue {
	kvs := append([]attribute.KeyValue(nil), k.base...)
	switch id.kind {
	case attemptSet:
		if id.status != 0 {
			kvs = append(kvs, semconv.HTTPResponseStatusCode(id.status))
		}
		v := classify.Verdict(id.a)
		kvs = append(kvs, verdictKey.String(v.String()))
		if v != classify.Success {
			kvs = append(kvs, semconv.ErrorTypeKey.String(errorType(id.status, id.code)))
		}
	case retrySet:
		kvs = append(kvs, semconv.ErrorTypeKey.String(errorType(id.status, id.code)))
		if id.code != "" {
			kvs = append(kvs, codeKey.String(id.code))
		}
	case giveUpSet:
		kvs = append(kvs, reasonKey.String(reasonName(rebound.Reason(id.a))))
		if id.status != 0 {
			kvs = append(kvs, semconv.HTTPResponseStatusCode(id.status))
		}
	case fallbackSet:
		kvs = append(kvs, fallbackWhyKey.String(reasonName(rebound.Reason(id.a))), fallbackToKey.String(id.code))
	case waitSet:
		kvs = append(kvs, causeKey.String(causeName(rebound.WaitCause(id.a))))
	case transitionSet:
		kvs = append(kvs, stateKey.String(stateName(breaker.State(id.a))),
			previousStateKey.String(stateName(breaker.State(id.b))))
	case stateSet:
		kvs = append(kvs, stateKey.String(stateName(breaker.State(id.a))))
	}
	return kvs
}

// keys maps rebound's keys to their attributes, at most max of them.
type keys struct {
	max   int
	mu    sync.Mutex
	m     atomic.Pointer[map[string]*keyAttrs]
	other *keyAttrs
	codes atomic.Pointer[map[string]string]
}

func newKeys(max int) *keys {
	ks := &keys{max: max, other: newKeyAttrs(other, other, false)}
	ks.m.Store(&map[string]*keyAttrs{})
	ks.codes.Store(&map[string]string{})
	return ks
}

// get returns the attributes of key, or the "_OTHER" entry when max keys
// are held already.
func (ks *keys) get(key string) *keyAttrs {
	m := *ks.m.Load()
	if k, ok := m[key]; ok {
		return k
	}
	if len(m) >= ks.max { // it never shrinks: no need to lock
		return ks.other
	}
	return ks.add(key)
}

func (ks *keys) add(key string) *keyAttrs {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := *ks.m.Load()
	if k, ok := old[key]; ok {
		return k
	}
	if len(old) >= ks.max {
		return ks.other
	}
	host, model, _ := strings.Cut(key, "/")
	k := newKeyAttrs(host, model, true)
	m := make(map[string]*keyAttrs, len(old)+1)
	for n, v := range old {
		m[n] = v
	}
	m[key] = k
	ks.m.Store(&m)
	return k
}

// alternative returns the key a fallback went to as recorded: itself while
// it has attributes of its own, else "_OTHER".
func (ks *keys) alternative(key string) string {
	if ks.get(key).own {
		return clean(key)
	}
	return other
}

// clean returns s as valid UTF-8: OTLP cannot marshal, and Prometheus
// refuses, a string value that is not (a key named from an escaped path
// may hold any byte).
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// code returns the provider code c as recorded: itself, or "_OTHER" once
// maxCodes others are held.
func (ks *keys) code(c string) string {
	if c == "" {
		return ""
	}
	m := *ks.codes.Load()
	if v, ok := m[c]; ok {
		return v
	}
	if len(m) >= maxCodes || len(c) > maxCodeLen {
		return other
	}
	return ks.addCode(c)
}

func (ks *keys) addCode(c string) string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := *ks.codes.Load()
	if v, ok := old[c]; ok {
		return v
	}
	if len(old) >= maxCodes {
		return other
	}
	m := make(map[string]string, len(old)+1)
	for n, v := range old {
		m[n] = v
	}
	c = strings.Clone(c)
	v := clean(classify.Redact(c)) // a custom Classifier's code is not redacted
	m[c] = v
	ks.codes.Store(&m)
	return v
}

// errorType is error.type for a failed answer: its status code when it has
// an error status, else the provider's code, else "_OTHER".
func errorType(status int, code string) string {
	switch {
	case status >= 400 && status <= 999:
		return strconv.Itoa(status)
	case code != "":
		return code
	}
	return other
}

// status bounds a status code to the 0–999 a Go client accepts.
func status(s int) int {
	if s < 0 || s > 999 {
		return 0
	}
	return s
}

func reasonName(r rebound.Reason) string {
	switch r {
	case rebound.ReasonNone:
		return "none"
	case rebound.ReasonAttempts:
		return "attempts"
	case rebound.ReasonBudget:
		return "budget"
	case rebound.ReasonDeadline:
		return "deadline"
	case rebound.ReasonHintTooLong:
		return "hint_too_long"
	case rebound.ReasonCircuitOpen:
		return "circuit_open"
	case rebound.ReasonRateLimited:
		return "rate_limited"
	case rebound.ReasonQuotaSpent:
		return "quota_spent"
	case rebound.ReasonNotReplayable:
		return "not_replayable"
	case rebound.ReasonCanceled:
		return "canceled"
	case rebound.ReasonTooLarge:
		return "too_large"
	case rebound.ReasonFatal:
		return "fatal"
	}
	return other
}

func causeName(c rebound.WaitCause) string {
	switch c {
	case rebound.WaitBackoff:
		return "backoff"
	case rebound.WaitHint:
		return "hint"
	case rebound.WaitBreaker:
		return "breaker"
	case rebound.WaitRecovery:
		return "recovery"
	case rebound.WaitPace:
		return "pace"
	case rebound.WaitRateLimit:
		return "rate_limit"
	case rebound.WaitQuota:
		return "quota"
	}
	return other
}

func stateName(s breaker.State) string {
	switch s {
	case breaker.Closed:
		return "closed"
	case breaker.HalfOpen:
		return "half_open"
	case breaker.Open:
		return "open"
	}
	return other
}

// states are the breaker states the state gauge reports, each key in one.
var states = [...]breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open}
