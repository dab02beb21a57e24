package fakeari

import "net/http"

// GoAway closes every events websocket and refuses new ones, REST included,
// as an Asterisk that was stopped would, until ComeBack. Playback goes on
// (with Options.Hold it waits for a client instead).
func (s *Server) GoAway() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.away = true
	s.refusing = true
	for c := range s.conns {
		c.Close()
	}
	clear(s.clients)
	s.notifyLocked()
}

// ComeBack accepts connections again after GoAway.
func (s *Server) ComeBack() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.away = false
	s.refusing = false
	s.notifyLocked()
}

// unlessAway answers 503 while the server is away.
func (s *Server) unlessAway(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		away := s.away
		s.mu.Unlock()
		if away {
			writeJSON(w, http.StatusServiceUnavailable, message("Asterisk is not accepting connections"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
