package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/callbridge/callbridge/internal/api"
)

// slowIndexes is an Integrations whose syncs wait to be released.
type slowIndexes struct {
	release chan struct{}
	fail    error
}

func (s slowIndexes) Statuses() []api.IntegrationStatus {
	return []api.IntegrationStatus{{Name: "dynamics", Enabled: true}}
}

func (s slowIndexes) Do(ctx context.Context, name string, a api.Action) (api.IntegrationStatus, error) {
	if a == api.ActionSync || a == api.ActionFullSync {
		select {
		case <-s.release:
		case <-ctx.Done():
			return api.IntegrationStatus{}, ctx.Err()
		}
	}
	if s.fail != nil {
		return api.IntegrationStatus{}, s.fail
	}
	return api.IntegrationStatus{Name: name, Enabled: true, Records: 7}, nil
}

func decodeOp(t *testing.T, w *httptest.ResponseRecorder) api.Operation {
	t.Helper()
	var op api.Operation
	if err := json.Unmarshal(w.Body.Bytes(), &op); err != nil {
		t.Fatalf("%d %q: %v", w.Code, w.Body.String(), err)
	}
	return op
}

// A sync is started by the request (202 with its status URL, while the
// sync still runs) and reported at that URL; a second request while it
// runs gets the same operation; an unknown integration is 404.
func TestSyncIsAnOperation(t *testing.T) {
	ops := api.NewOperations(context.Background(), nil)
	idx := slowIndexes{release: make(chan struct{})}
	m := api.New(api.Deps{Auth: api.AllowAll{}, Integrations: idx, Operations: ops})

	w := do(m, "POST", "/api/integrations/dynamics/full-sync", "")
	if w.Code != 202 {
		t.Fatalf("full-sync: %d %q", w.Code, w.Body.String())
	}
	op := decodeOp(t, w)
	if op.State != api.OpRunning || op.Kind != "integration full-sync" || op.Target != "dynamics" || w.Header().Get("Location") != op.StatusURL {
		t.Fatalf("operation %+v, Location %q", op, w.Header().Get("Location"))
	}
	if again := decodeOp(t, do(m, "POST", "/api/integrations/dynamics/full-sync", "")); again.ID != op.ID {
		t.Errorf("a second full-sync while one runs started %s, want %s", again.ID, op.ID)
	}
	if st := decodeOp(t, do(m, "GET", op.StatusURL, "")); st.State != api.OpRunning {
		t.Errorf("status while running: %+v", st)
	}
	close(idx.release)
	ops.Wait()
	st := decodeOp(t, do(m, "GET", op.StatusURL, ""))
	res, _ := json.Marshal(st.Result)
	if st.State != api.OpDone || st.Finished == nil || string(res) == "null" {
		t.Errorf("status when done: %+v", st)
	}
	var is api.IntegrationStatus
	if err := json.Unmarshal(res, &is); err != nil || is.Records != 7 {
		t.Errorf("result %s: %v", res, err)
	}
	if w := do(m, "POST", "/api/integrations/nope/sync", ""); w.Code != 404 {
		t.Errorf("unknown integration: %d", w.Code)
	}
	if w := do(m, "GET", "/api/operations/nope", ""); w.Code != 404 {
		t.Errorf("unknown operation: %d", w.Code)
	}
	if w := do(m, "POST", "/api/integrations/dynamics/enable", ""); w.Code != 200 {
		t.Errorf("enable answers at once: %d", w.Code)
	}
}

// A failed operation says why.
func TestOperationFails(t *testing.T) {
	ops := api.NewOperations(context.Background(), nil)
	release := make(chan struct{})
	close(release)
	m := api.New(api.Deps{Auth: api.AllowAll{}, Integrations: slowIndexes{release: release, fail: errors.New("CRM said 503")}, Operations: ops})
	op := decodeOp(t, do(m, "POST", "/api/integrations/dynamics/sync", ""))
	ops.Wait()
	if st := decodeOp(t, do(m, "GET", op.StatusURL, "")); st.State != api.OpFailed || st.Error != "CRM said 503" {
		t.Errorf("failed sync: %+v", st)
	}
}

// Operations end with the daemon's context.
func TestOperationsEndAtShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ops := api.NewOperations(ctx, nil)
	m := api.New(api.Deps{Auth: api.AllowAll{}, Integrations: slowIndexes{release: make(chan struct{})}, Operations: ops})
	op := decodeOp(t, do(m, "POST", "/api/integrations/dynamics/sync", ""))
	cancel()
	ops.Wait()
	if st, _ := ops.Get(op.ID); st.State != api.OpFailed || st.Error != context.Canceled.Error() {
		t.Errorf("after shutdown: %+v", st)
	}
}
