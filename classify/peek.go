package classify

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxEmptyReads is how many reads in a row may return no bytes and no error
// before peek gives up on a misbehaving body (bufio uses the same bound).
const maxEmptyReads = 100

// timerFunc starts a timer of d and returns its channel and the timer to
// stop; it is time.NewTimer unless a test sets Catalog.newTimer.
type timerFunc func(d time.Duration) (<-chan time.Time, interface{ Stop() bool })

func newRealTimer(d time.Duration) (<-chan time.Time, interface{ Stop() bool }) {
	t := time.NewTimer(d)
	return t.C, t
}

// peek reads at most limit bytes of resp.Body, for at most wait (no bound
// when wait is negative; timer measures it), stopping early once done
// reports true for the bytes read so far, and puts them back: resp.Body then
// yields the peeked bytes followed by the rest of the original body, or by
// the error that stopped the peek. It returns the peeked bytes, which the
// caller must not modify, and whole: true when the body ended among them or
// done reported true, false when the peek was cut short (by limit, wait, a
// read error or a body that returns nothing).
//
// A peek bounded in time reads on a goroutine of its own. When the time is
// up, the read in flight, if any, is left to finish there: the body given
// back waits for its bytes after the peeked ones.
func peek(resp *http.Response, limit int64, wait time.Duration, timer timerFunc, done func([]byte) bool) (b []byte, whole bool) {
	if limit <= 0 || resp.Body == nil || resp.Body == http.NoBody {
		return nil, true
	}
	size := int64(512)
	if cl := resp.ContentLength; cl >= 0 && cl < size {
		size = cl + 1 // room to see io.EOF without growing
	}
	pb := &peekedBody{rest: resp.Body}
	p := &pb.peek
	*p = peeker{body: resp.Body, limit: limit, done: done, buf: make([]byte, 0, min(size, limit))}
	resp.Body = pb
	if wait < 0 {
		p.run()
	} else {
		p.exited = make(chan struct{})
		go p.run()
		c, t := timer(wait)
		select {
		case <-p.exited:
			t.Stop()
		case <-c:
			p.mu.Lock()
			if !p.finished {
				p.halted = true
				pb.pending = true
			}
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pb.buf, pb.err = p.buf, p.err
	return p.buf, p.whole
}

// peeker is the state of one peek. Its reader, run, owns buf[len(buf):];
// the bytes before are final.
type peeker struct {
	body  io.Reader
	limit int64
	done  func([]byte) bool

	mu       sync.Mutex
	buf      []byte
	err      error // the error that ended the peek (io.EOF included)
	whole    bool
	finished bool // run has read all it will
	halted   bool // the time is up: run must stop
	tail     []byte
	tailErr  error         // the read in flight when the peek was halted
	exited   chan struct{} // closed when run returns, for a peek bounded in time
}

// run reads until the peek is finished or halted, and then closes exited,
// if the peek has it.
func (p *peeker) run() {
	if p.exited != nil {
		defer close(p.exited)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for empty := 0; !p.halted; {
		if int64(len(p.buf)) >= p.limit || empty >= maxEmptyReads {
			p.finished = true
			return
		}
		if len(p.buf) == cap(p.buf) {
			p.buf = slices.Grow(p.buf, int(min(int64(cap(p.buf)), p.limit-int64(len(p.buf)))))
		}
		b := p.buf
		p.mu.Unlock()
		n, err := p.body.Read(b[len(b):min(int64(cap(b)), p.limit)])
		p.mu.Lock()
		if p.halted {
			p.tail, p.tailErr = b[len(b):len(b)+n], err
			return
		}
		p.buf = b[:len(b)+n]
		switch {
		case err != nil:
			p.err, p.whole, p.finished = err, err == io.EOF, true
			return
		case n == 0:
			empty++
		case p.done != nil && p.done(p.buf):
			p.whole, p.finished = true, true
			return
		default:
			empty = 0
		}
	}
}

// peekedBody gives back the bytes a peek took from rest.
type peekedBody struct {
	buf     []byte        // peeked bytes not yet read again
	pending bool          // the peek was halted; its last read is yet to be given back
	rest    io.ReadCloser // the original body
	err     error         // what rest returned to the peek: read no further
	peek    peeker
	closed  atomic.Bool // Close was called: the peeked bytes are gone with the body
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		// What the closed body itself says, once the peek's read is over.
		if b.pending {
			<-b.peek.exited
		}
		return b.rest.Read(p)
	}
	if len(b.buf) == 0 && b.pending {
		<-b.peek.exited
		b.buf, b.err, b.pending = b.peek.tail, b.peek.tailErr, false
	}
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.rest.Read(p)
}

func (b *peekedBody) Close() error {
	b.closed.Store(true)
	return b.rest.Close()
}
