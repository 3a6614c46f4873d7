package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// heartbeatScript scores member ARGV[1] of the sorted set KEYS[1] with the
// server's time (so that the replicas' clocks need not agree), removes the
// members not seen for ARGV[2] ms, and returns how many remain.
var heartbeatScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call("ZADD", KEYS[1], now, ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - ttl)
redis.call("PEXPIRE", KEYS[1], ttl)
return redis.call("ZCARD", KEYS[1])
`)

func (s *Store) heartbeatLoop() {
	defer s.wg.Done()
	var bo backoff
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
		n, err := heartbeatScript.Run(ctx, s.rdb, []string{s.key("members")}, s.id, s.opts.MemberTTL.Milliseconds()).Int64()
		cancel()
		if err != nil {
			// Keep the last count seen; try again sooner than a heartbeat.
			if !bo.wait(s.ctx) {
				return
			}
			t.Reset(0)
			continue
		}
		bo.reset()
		s.members.Store(n)
		t.Reset(s.opts.Heartbeat)
	}
}
