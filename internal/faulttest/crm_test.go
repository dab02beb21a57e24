package faulttest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// crmTimeout is the webhook connector's timeout in the daemons' config; a
// hanging answer takes longer than this.
const crmTimeout = 300 * time.Millisecond

// answer is what the flaky CRM does with one request.
type answer int

const (
	answerOK          answer = iota // create (or find) the record, 204
	answerFail                      // 503, nothing done
	answerThrottle                  // 429 with Retry-After: 1, nothing done
	answerHang                      // create, but answer after the connector gave up
	answerCreatedFail               // create, then 500: the retry must be absorbed
	answerReset                     // create, then reset the connection unanswered
	answerKinds
)

var answerNames = [answerKinds]string{"ok", "503", "429", "hang", "created-then-500", "created-then-reset"}

// plan decides, from the activity id and how many times it was posted
// before, what the CRM answers: 30 % of first attempts fail in one of five
// ways, as many of the second and third, and from the fourth attempt on
// everything succeeds, so that the suite ends. The same id and attempt
// always get the same answer.
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
	case n < 6:
		return answerFail
	case n < 12:
		return answerThrottle
	case n < 18:
		return answerHang
	case n < 24:
		return answerCreatedFail
	case n < 30:
		return answerReset
	}
	return answerOK
}

// record is what the CRM keeps under one idempotency key.
type record struct {
	body     []byte // of the request that created it
	act      bridge.Activity
	versions int // distinct bodies seen under the key
}

// crm is the webhook receiver, strict like a CRM API with idempotency
// keys: it verifies every signature, requires an Idempotency-Key, creates
// one record per key and answers a repeat from that record. It fails
// requests as plan says.
type crm struct {
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	attempts map[string]int     // requests per activity id
	records  map[string]*record // by idempotency key
	keys     map[string][]string
	answers  [answerKinds]int
	bad      []string // requests that were not a valid signed activity
}

func newCRM(secret string) *crm {
	c := &crm{secret: []byte(secret), attempts: map[string]int{}, records: map[string]*record{}, keys: map[string][]string{}}
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
	var a bridge.Activity
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
		c.reject(w, "body is not an activity")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		c.reject(w, "no Idempotency-Key")
		return
	}
	c.mu.Lock()
	n := c.attempts[a.ID]
	c.attempts[a.ID]++
	ans := plan(a.ID, n)
	c.answers[ans]++
	if ans == answerOK || ans == answerHang || ans == answerCreatedFail || ans == answerReset {
		c.create(key, a, body)
	}
	c.mu.Unlock()
	switch ans {
	case answerOK:
		w.WriteHeader(http.StatusNoContent)
	case answerFail:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case answerCreatedFail:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case answerThrottle:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case answerHang:
		select {
		case <-time.After(crmTimeout + 150*time.Millisecond):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	case answerReset:
		// Processed, then the connection drops before any answer: a
		// reset, not a clean close.
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	}
}

// create makes the key's record, or finds it: a repeat under one key is
// the same record, and a different body under it is noted.
func (c *crm) create(key string, a bridge.Activity, body []byte) {
	if rec := c.records[key]; rec != nil {
		if !bytes.Equal(rec.body, body) {
			rec.versions++
			rec.body = body // the last version, for the report
		}
		return
	}
	c.records[key] = &record{body: body, act: a, versions: 1}
	c.keys[a.ID] = append(c.keys[a.ID], key)
}

func (c *crm) reject(w http.ResponseWriter, why string) {
	c.mu.Lock()
	if len(c.bad) < 20 {
		c.bad = append(c.bad, why)
	}
	c.mu.Unlock()
	http.Error(w, why, http.StatusBadRequest)
}

// has reports which of ids have a record.
func (c *crm) has(ids map[string]bool) (missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range ids {
		if len(c.keys[id]) == 0 {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	return missing
}

// stats describes the requests, for the log.
func (c *crm) stats() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	requests := 0
	for _, n := range c.attempts {
		requests += n
	}
	s := fmt.Sprintf("%d records from %d requests:", len(c.records), requests)
	for i, n := range c.answers {
		s += fmt.Sprintf(" %s %d", answerNames[i], n)
	}
	return s
}
