package dynamics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
)

// recordingNumbers are the numbers the lab PBX presented in the recorded
// calls.
func recordingNumbers() []string {
	files, _ := filepath.Glob("../../testdata/recordings/*/ari.jsonl")
	re := regexp.MustCompile(`"number":"([^"]*)"`)
	seen := map[string]bool{}
	var out []string
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, m := range re.FindAllSubmatch(b, -1) {
			if s := string(m[1]); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return append(out, "+358401234567", "anonymous", "")
}

// captureBatch runs a real $batch through the fake and keeps its answer,
// to seed the parser's fuzzer with what Dataverse's format looks like.
func captureBatch(f *testing.F) (ctype string, body []byte) {
	fake := fakedataverse.New(fakedataverse.Options{ClientID: "c", ClientSecret: "secret-value", Scope: "s"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != APIPath+"$batch" {
			fake.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, r)
		ctype, body = rec.Header().Get("Content-Type"), rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	d, err := New("f", Config{URL: srv.URL, TokenURL: srv.URL + "/t/token", ClientID: "c", ClientSecret: "secret-value", Scope: "s"}, Options{Logger: zerolog.Nop()})
	if err != nil {
		f.Fatal(err)
	}
	var acts []bridge.Activity
	for i, n := range recordingNumbers() {
		acts = append(acts, bridge.Activity{ID: fmt.Sprint(i), User: "101", LocalNumber: "101", Direction: bridge.Inbound,
			State: bridge.Missed, RemoteNumber: n, StartedAt: time.Unix(0, 0), EndedAt: time.Unix(5, 0)})
	}
	acts = append(acts, acts[0]) // a duplicate: one failed changeset
	ds := make([]crmsync.Delivery, len(acts))
	for i, a := range acts {
		ds[i] = crmsync.Delivery{Activity: a}
	}
	d.PushBatch(context.Background(), ds)
	return ctype, body
}

// FuzzBatchResponse feeds damaged $batch answers to the parser: errors,
// never panics, and never more results than parts.
func FuzzBatchResponse(f *testing.F) {
	ctype, body := captureBatch(f)
	f.Add(ctype, body)
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		res, err := parseBatchResponse(ctype, body)
		if len(res) > maxParts {
			t.Fatalf("%d results", len(res))
		}
		_ = err
	})
}

// FuzzErrorBody feeds odd error answers to the classifier: the message is
// bounded, printable and never carries the secret.
func FuzzErrorBody(f *testing.F) {
	f.Add([]byte(`{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}`), 412)
	f.Add([]byte(`{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`), 429)
	f.Add([]byte("<html>oops secret-value</html>"), 500)
	for _, n := range recordingNumbers() {
		f.Add([]byte(`{"error":{"code":"0x80060888","message":"`+n+`"}}`), 400)
	}
	d, err := New("f", Config{URL: "https://org.example", TenantID: "t", ClientID: "c", ClientSecret: "secret-value"}, Options{Logger: zerolog.Nop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		if status < 100 || status > 999 {
			status = 500
		}
		err := d.fail("op", &response{status: status, header: http.Header{"Retry-After": {string(body[:min(len(body), 10)])}}, body: body})
		if status < 300 {
			return
		}
		msg := err.Error()
		if len(msg) > 600 {
			t.Fatalf("message of %d bytes", len(msg))
		}
		if bytes.Contains([]byte(msg), []byte("secret-value")) {
			t.Fatalf("secret in %q", msg)
		}
		_, _ = io.Discard.Write([]byte(msg))
	})
}
