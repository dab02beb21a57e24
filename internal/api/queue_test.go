package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/api"
)

// memQueue is a queue with dead letters of two connectors.
type memQueue struct {
	mu   sync.Mutex
	dead []crmsync.DeadLetter
}

func (q *memQueue) Stats(context.Context) ([]crmsync.QueueStats, error) { return nil, nil }

func (q *memQueue) DeadLetters(_ context.Context, connector string, limit int) ([]crmsync.DeadLetter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []crmsync.DeadLetter
	for _, d := range q.dead {
		if (connector == "" || d.Connector == connector) && (limit <= 0 || len(out) < limit) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (q *memQueue) drop(keep func(crmsync.DeadLetter) bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	var rest []crmsync.DeadLetter
	for _, d := range q.dead {
		if keep(d) {
			rest = append(rest, d)
		}
	}
	n := len(q.dead) - len(rest)
	q.dead = rest
	return n
}

func (q *memQueue) Retry(_ context.Context, id string) error {
	if q.drop(func(d crmsync.DeadLetter) bool { return d.Activity.ID != id }) == 0 {
		return crmsync.ErrNotFound
	}
	return nil
}

func (q *memQueue) RetryAll(_ context.Context, connector string) (int, error) {
	return q.drop(func(d crmsync.DeadLetter) bool { return connector != "" && d.Connector != connector }), nil
}

func (q *memQueue) Purge(ctx context.Context, connector string) (int, error) {
	return q.RetryAll(ctx, connector)
}

func deadLetter(connector, id string) crmsync.DeadLetter {
	return crmsync.DeadLetter{Connector: connector, Activity: bridge.Activity{ID: id}, Attempts: 1, Reason: "422"}
}

// The queue routes answer what `callbridge queue` asks of a running daemon.
func TestQueueRoutes(t *testing.T) {
	q := &memQueue{dead: []crmsync.DeadLetter{deadLetter("hook", "a1"), deadLetter("hook", "a2"), deadLetter("dyn", "b1"), deadLetter("dyn", "b2")}}
	m := api.New(api.Deps{Auth: tokens(true, false), Queue: q})
	for _, tt := range []struct {
		method, target string
		code           int
		body           string
	}{
		{"GET", "/api/queue/dead?connector=dyn&limit=1", 200, `"id":"b1"`},
		{"GET", "/api/queue/dead?limit=x", 400, "limit"},
		{"POST", "/api/queue/retry", 400, "give id=ID or all=true"},
		{"POST", "/api/queue/retry?id=a1&all=true", 400, "give id=ID or all=true"},
		{"POST", "/api/queue/retry?id=nope", 404, "no dead letter with activity id nope"},
		{"POST", "/api/queue/retry?id=a1", 200, `{"requeued":1}`},
		{"POST", "/api/queue/retry?all=true&connector=dyn", 200, `{"requeued":2}`},
		{"POST", "/api/queue/purge", 200, `{"purged":1}`},
		{"GET", "/api/queue/dead", 200, `[]`},
	} {
		w := do(m, tt.method, tt.target, adminToken)
		body := w.Body.String()
		var c bytes.Buffer
		if json.Compact(&c, w.Body.Bytes()) == nil {
			body = c.String()
		}
		if w.Code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("%s %s: %d %s, want %d with %s", tt.method, tt.target, w.Code, body, tt.code, tt.body)
		}
	}
	// Without a CRM there is no queue.
	m = api.New(api.Deps{Auth: tokens(true, false)})
	if w := do(m, "POST", "/api/queue/purge", adminToken); w.Code != http.StatusNotFound {
		t.Errorf("purge without a queue: %d", w.Code)
	}
	var dls []crmsync.DeadLetter
	if w := do(m, "GET", "/api/queue/dead", adminToken); w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &dls) != nil {
		t.Errorf("dead letters without a queue: %d %s", w.Code, w.Body.String())
	}
}
