package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxPendingRaises bounds the names waiting to be sent; a Raise of one more
// name is dropped (the Transport holds it locally all the same).
const maxPendingRaises = 4096

// raiseScript moves KEYS[1] (a deadline, Unix ms) to ARGV[1] unless it is
// already as late, expiring it then, indexes it in the hash KEYS[2] under
// ARGV[2], and publishes "ARGV[1] ARGV[2]" on ARGV[3]. It returns 1 when the
// deadline moved. Redis runs a script alone: two raisers cannot interleave
// between the read and the write, so a later writer with an earlier
// deadline never shortens a hold.
var raiseScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilms = tonumber(ARGV[1])
if untilms <= now then
  return 0
end
local cur = tonumber(redis.call("GET", KEYS[1]))
if cur and untilms <= cur then
  return 0
end
redis.call("SET", KEYS[1], ARGV[1])
redis.call("PEXPIREAT", KEYS[1], ARGV[1])
local idx = redis.call("HGETALL", KEYS[2])
for i = 1, #idx, 2 do
  if tonumber(idx[i + 1]) <= now then
    redis.call("HDEL", KEYS[2], idx[i])
  end
end
redis.call("HSET", KEYS[2], ARGV[2], ARGV[1])
local ttl = redis.call("PTTL", KEYS[2])
if ttl < untilms - now then
  redis.call("PEXPIREAT", KEYS[2], ARGV[1])
end
redis.call("PUBLISH", ARGV[3], ARGV[1] .. " " .. ARGV[2])
return 1
`)

// Raise moves the shared deadline name to until unless it is already
// later, and tells every subscriber of the fleet. It does not block: the
// update is sent by a background goroutine, coalesced with the other
// Raises of name not yet sent (the latest until wins). A deadline already
// past is ignored, and so is every Raise after Close.
func (s *Store) Raise(name string, until time.Time) {
	if s.ctx.Err() != nil || !until.After(time.Now()) {
		return
	}
	ms := until.UnixMilli()
	if time.UnixMilli(ms).Before(until) {
		ms++ // rounded up: a replica told of it must not go before until
	}
	s.rmu.Lock()
	cur, ok := s.raises[name]
	if !ok && len(s.raises) >= maxPendingRaises {
		s.rmu.Unlock()
		return
	}
	if ms > cur {
		s.raises[name] = ms
	}
	s.rmu.Unlock()
	select {
	case s.raiseKick <- struct{}{}:
	default:
	}
}

func (s *Store) publishLoop() {
	defer s.wg.Done()
	var bo backoff
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.raiseKick:
		}
		for {
			s.rmu.Lock()
			batch := s.raises
			if len(batch) == 0 {
				s.rmu.Unlock()
				break
			}
			s.raises = make(map[string]int64, len(batch))
			s.rmu.Unlock()
			if s.sendRaises(batch) {
				bo.reset()
				continue
			}
			if !bo.wait(s.ctx) {
				return
			}
		}
	}
}

// sendRaises runs the script for each raise of batch; on the first failure
// it puts back the ones not sent and returns false.
func (s *Store) sendRaises(batch map[string]int64) bool {
	for name, ms := range batch {
		if ms <= time.Now().UnixMilli() {
			delete(batch, name)
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
		_, err := s.raise(ctx, name, ms)
		cancel()
		if err != nil {
			s.rmu.Lock()
			for n, m := range batch {
				if m > s.raises[n] {
					s.raises[n] = m
				}
			}
			s.rmu.Unlock()
			return false
		}
		delete(batch, name)
	}
	return true
}

// raise runs raiseScript for name; it reports whether the deadline moved.
func (s *Store) raise(ctx context.Context, name string, untilMs int64) (bool, error) {
	keys := []string{s.key("deadline:", name), s.key("deadlines")}
	n, err := raiseScript.Run(ctx, s.rdb, keys, untilMs, name, s.key("deadlines")).Int()
	return n == 1, err
}

// parseDeadline parses a published "MILLIS NAME".
func parseDeadline(payload string) (string, time.Time, bool) {
	for i := 0; i < len(payload); i++ {
		if payload[i] == ' ' {
			ms, err := strconv.ParseInt(payload[:i], 10, 64)
			if err != nil {
				return "", time.Time{}, false
			}
			return payload[i+1:], time.UnixMilli(ms), true
		}
	}
	return "", time.Time{}, false
}
