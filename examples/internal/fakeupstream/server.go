package fakeupstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Reply is one scripted response.
type Reply struct {
	// Status is the HTTP status code. Zero means 200.
	Status int
	// Header holds the response headers. Nil means none besides
	// Content-Type (application/json) and a generated request id.
	Header http.Header
	// Body is the response body, sent as it is.
	Body string
}

// Request is what the Server recorded about one request it received.
type Request struct {
	// At is when the request reached the handler.
	At time.Time
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Header is a copy of the request headers.
	Header http.Header
	// Body is the request body.
	Body []byte
}

// Server is a scripted HTTP server on the loopback interface.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:port", without a
	// trailing slash.
	URL string

	srv *httptest.Server

	mu      sync.Mutex
	scripts map[string][]Reply   // by path; the last Reply repeats
	seen    map[string][]Request // by path
	n       int                  // requests answered, for request ids
}

// Start starts a Server with no scripts. Every path answers 404 until it is
// scripted.
func Start() *Server {
	s := &Server{
		scripts: make(map[string][]Reply),
		seen:    make(map[string][]Request),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down and waits for its handlers to return.
func (s *Server) Close() { s.srv.Close() }

// Script makes path answer with replies, in order; once only the last Reply
// is left, it answers every further request. Script replaces any earlier
// script for path and forgets the requests path has received.
func (s *Server) Script(path string, replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[path] = append([]Reply(nil), replies...)
	delete(s.seen, path)
}

// Requests returns the requests path has received since it was last
// scripted, oldest first.
func (s *Server) Requests(path string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.seen[path]...)
}

// Count returns how many requests path has received since it was last
// scripted.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen[path])
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)

	s.mu.Lock()
	s.seen[r.URL.Path] = append(s.seen[r.URL.Path], Request{
		At: at, Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body,
	})
	s.n++
	id := "req_" + strconv.Itoa(s.n)
	reply, ok := s.next(r.URL.Path)
	s.mu.Unlock()

	if !ok {
		reply = Reply{Status: http.StatusNotFound, Body: `{"error":{"message":"fakeupstream: no script for ` +
			r.URL.Path + `","type":"invalid_request_error","param":null,"code":"unknown_url"}}`}
	}
	h := w.Header()
	for k, v := range reply.Header {
		h[k] = append([]string(nil), v...)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	if h.Get("X-Request-Id") == "" && h.Get("Request-Id") == "" {
		h.Set("X-Request-Id", id) // OpenAI's name
		h.Set("Request-Id", id)   // Anthropic's name
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply.Body)
}

// next pops the next Reply for path, keeping the last one. s.mu is held.
func (s *Server) next(path string) (Reply, bool) {
	q := s.scripts[path]
	if len(q) == 0 {
		return Reply{}, false
	}
	if len(q) > 1 {
		s.scripts[path] = q[1:]
	}
	return q[0], true
}
