package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-http/rebound/bench/sim"
	"github.com/rebound-http/rebound/redisstore"
)

// fleet runs a client as replicas: independent instances, each with its
// own Transport (and, for clientReboundFleet, its own Redis client and
// Store), the calls dealt among them by call id.
type fleet struct {
	replicas []*http.Client
	close    []func()
}

func (f *fleet) RoundTrip(r *http.Request) (*http.Response, error) {
	id, _ := strconv.ParseUint(r.Header.Get(sim.CallHeader), 10, 64)
	return f.replicas[id%uint64(len(f.replicas))].Transport.RoundTrip(r)
}

// runSeq numbers the runs of this process, so that each fleet run keeps
// its state in Redis apart from the others'.
var runSeq atomic.Int64

// newClient builds client c over base for one run: itself, or, with
// replicas > 1, a fleet of it. A client that needs a Store gets one per
// replica, on the Redis server at redisAddr.
func newClient(c client, base http.RoundTripper, up upstream, replicas int, redisAddr, scenario string) (*http.Client, func(), error) {
	if replicas <= 1 && c.newWithStore == nil {
		return c.new(base, up), func() {}, nil
	}
	f := &fleet{}
	closeAll := func() {
		for _, cl := range f.close {
			cl()
		}
	}
	prefix := fmt.Sprintf("rebound-bench:%d:%d:%s:%s:", time.Now().UnixNano(), runSeq.Add(1), scenario, c.name)
	for range max(replicas, 1) {
		if c.newWithStore == nil {
			f.replicas = append(f.replicas, c.new(base, up))
			continue
		}
		if redisAddr == "" {
			closeAll()
			return nil, nil, fmt.Errorf("client %s needs -redis", c.name)
		}
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
		st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
		if err != nil {
			rdb.Close()
			closeAll()
			return nil, nil, err
		}
		f.close = append(f.close, func() { st.Close(); rdb.Close() })
		f.replicas = append(f.replicas, c.newWithStore(base, up, st))
	}
	return &http.Client{Transport: f}, closeAll, nil
}

// checkRedis reports whether the Redis server at addr answers.
func checkRedis(addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("-redis %s: %w", addr, err)
	}
	return nil
}
