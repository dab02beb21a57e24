package faulttest

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/callbridge/callbridge/crmsync/webhook"
)

// crmTimeout is the webhook connector's timeout in the daemons' config; a
// slow answer takes longer than this.
const crmTimeout = 300 * time.Millisecond

// answer is what the flaky CRM does with one request.
type answer int

const (
	answerOK         answer = iota // store, 204
	answerFail                     // 500, nothing stored
	answerThrottle                 // 429 with Retry-After: 1, nothing stored
	answerSlow                     // store, but answer after the connector gave up
	answerStoredFail               // store, then 500: the retry must be absorbed
	answerKinds                    // how many kinds there are
)

// plan decides, from the activity id and how many times it was posted
// before, what the CRM answers: about 30 % of first attempts fail in one
// of four ways, fewer of later ones, and from the fourth attempt on
// everything succeeds, so that the test ends. The same id and attempt
// always get the same answer, so a failing run can be repeated.
func plan(id string, attempt int) answer {
	if attempt >= 3 {
		return answerOK
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(attempt))
	h.Write(b[:])
	switch n := h.Sum32() % 100; {
	case n < 8:
		return answerFail
	case n < 15:
		return answerThrottle
	case n < 22:
		return answerSlow
	case n < 30:
		return answerStoredFail
	}
	return answerOK
}

// crm is the webhook receiver: it verifies every signature, checks that
// the Idempotency-Key is the activity id, and keeps each distinct activity
// once, counting repeats. It fails requests as plan says.
type crm struct {
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	attempts map[string]int    // requests per activity id
	stored   map[string]int    // times each id was stored (more than 1: a repeat)
	bodies   map[string][]byte // the first body stored under each id
	answers  [answerKinds]int
	bad      []string // requests that were not a valid signed activity
}

func newCRM(secret string) *crm {
	c := &crm{secret: []byte(secret), attempts: map[string]int{}, stored: map[string]int{}, bodies: map[string][]byte{}}
	c.srv = httptest.NewServer(c)
	return c
}

func (c *crm) close() { c.srv.Close() }

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if err := webhook.Verify(c.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		c.reject(w, "signature: "+err.Error())
		return
	}
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
		c.reject(w, "body is not an activity")
		return
	}
	if key := r.Header.Get("Idempotency-Key"); key != a.ID {
		c.reject(w, "Idempotency-Key "+key+" is not the activity id "+a.ID)
		return
	}
	c.mu.Lock()
	n := c.attempts[a.ID]
	c.attempts[a.ID]++
	ans := plan(a.ID, n)
	c.answers[ans]++
	if ans == answerOK || ans == answerSlow || ans == answerStoredFail {
		c.stored[a.ID]++
		if c.bodies[a.ID] == nil {
			c.bodies[a.ID] = body
		}
	}
	c.mu.Unlock()
	switch ans {
	case answerOK:
		w.WriteHeader(http.StatusNoContent)
	case answerFail, answerStoredFail:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case answerThrottle:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case answerSlow:
		select {
		case <-time.After(crmTimeout + 150*time.Millisecond):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (c *crm) reject(w http.ResponseWriter, why string) {
	c.mu.Lock()
	if len(c.bad) < 20 {
		c.bad = append(c.bad, why)
	}
	c.mu.Unlock()
	http.Error(w, why, http.StatusBadRequest)
}

// delivered is a copy of the ids stored so far with their counts.
func (c *crm) delivered() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.stored))
	for id, n := range c.stored {
		out[id] = n
	}
	return out
}

// body is the first body stored under id, nil if none.
func (c *crm) body(id string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodies[id]
}

// count is how many distinct ids are stored.
func (c *crm) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stored)
}
