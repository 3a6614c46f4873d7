package redisstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// pingAfter is how long the subscriber waits for a message before it pings
// Redis; a ping left unanswered as long again starts a new subscription.
const pingAfter = 3 * time.Second

// Subscribe has f called with each deadline raised in the fleet, and first
// with the ones in force, until the returned cancel is called. Calls come
// from one goroutine of the Store, one at a time, holding no lock, and f
// must not block: it delays the other subscribers. A deadline may be told
// more than once, and a name's deadlines are told in no particular order:
// keep the latest. After cancel returns, f is not called again but for a
// call already under way.
func (s *Store) Subscribe(f func(name string, until time.Time)) (cancel func()) {
	s.smu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = f
	s.fresh = append(s.fresh, id)
	s.smu.Unlock()
	s.kickDispatch()
	return func() {
		s.smu.Lock()
		delete(s.subs, id)
		s.smu.Unlock()
	}
}

func (s *Store) kickDispatch() {
	select {
	case s.dispKick <- struct{}{}:
	default:
	}
}

// deliver records a deadline heard from Redis and, if it is news, has the
// dispatcher tell the subscribers.
func (s *Store) deliver(name string, until time.Time) {
	now := time.Now()
	if !until.After(now) {
		return
	}
	s.smu.Lock()
	if !until.After(s.inForce[name]) {
		s.smu.Unlock()
		return
	}
	if len(s.inForce) >= 64 {
		for n, u := range s.inForce {
			if !u.After(now) {
				delete(s.inForce, n)
			}
		}
	}
	s.inForce[name] = until
	if until.After(s.dispatch[name]) {
		s.dispatch[name] = until
	}
	s.smu.Unlock()
	s.kickDispatch()
}

func (s *Store) dispatchLoop() {
	defer s.wg.Done()
	type call struct {
		id    uint64
		f     func(string, time.Time)
		name  string
		until time.Time
	}
	var calls []call
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.dispKick:
		}
		now := time.Now()
		s.smu.Lock()
		calls = calls[:0]
		for _, id := range s.fresh {
			if f, ok := s.subs[id]; ok {
				for name, until := range s.inForce {
					if until.After(now) {
						calls = append(calls, call{id, f, name, until})
					}
				}
			}
		}
		s.fresh = s.fresh[:0]
		for name, until := range s.dispatch {
			for id, f := range s.subs {
				calls = append(calls, call{id, f, name, until})
			}
			delete(s.dispatch, name)
		}
		s.smu.Unlock()
		for i, c := range calls {
			s.smu.Lock()
			_, live := s.subs[c.id]
			s.smu.Unlock()
			if live {
				c.f(c.name, c.until)
			}
			calls[i] = call{}
		}
	}
}

func (s *Store) subscribeLoop() {
	defer s.wg.Done()
	var bo backoff
	for {
		if s.receive(&bo) {
			bo.reset()
		}
		if !bo.wait(s.ctx) {
			return
		}
	}
}

// receive runs one subscription until it fails or the Store closes; it
// reports whether it got any message. Each (re)subscription is followed by
// a read of the deadlines in force, so that a Store that starts late, or
// that Redis lost for a while, catches up.
func (s *Store) receive(bo *backoff) bool {
	// Named at once: a Ring picks its shard by the channel (and panics
	// without one). On failure, Receive subscribes again.
	ps := s.rdb.Subscribe(s.ctx, s.key("deadlines"))
	stop := context.AfterFunc(s.ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close() // closed before the Store's Close returns
	}()
	got, pinged, replay := false, false, false
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, pingAfter)
		if s.ctx.Err() != nil {
			return got
		}
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || pinged {
				return got
			}
			pinged = true
			_ = ps.Ping(s.ctx)
			continue
		}
		got, pinged = true, false
		bo.reset()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				replay = true
			}
		case *redis.Message:
			if name, until, ok := parseDeadline(m.Payload); ok {
				s.deliver(name, until)
			}
		}
		if replay {
			replay = !s.replay()
		}
	}
}

// replay reads the deadlines in force; it reports whether it could.
func (s *Store) replay() bool {
	ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
	defer cancel()
	idx, err := s.rdb.HGetAll(ctx, s.key("deadlines")).Result()
	if err != nil {
		return false
	}
	for name, v := range idx {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			s.deliver(name, time.UnixMilli(ms))
		}
	}
	return true
}
