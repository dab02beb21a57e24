package dynamics

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// PushBatch writes many activities with $batch requests of up to
// Config.BatchSize activities, each activity one changeset (create, then
// complete, atomically). It returns one error per activity, nil for those
// written or found already written. Use it to drain a backlog: a $batch is
// one request against the service-protection request count.
//
// The start-margin query is not made in a batch; the deterministic
// activityid still makes a repeated activity a no-op.
func (d *Dynamics) PushBatch(ctx context.Context, ds []crmsync.Delivery) []error {
	errs := make([]error, len(ds))
	for start := 0; start < len(ds); start += d.cfg.BatchSize {
		end := min(start+d.cfg.BatchSize, len(ds))
		d.pushChunk(ctx, ds[start:end], errs[start:end])
	}
	return errs
}

func (d *Dynamics) pushChunk(ctx context.Context, ds []crmsync.Delivery, errs []error) {
	plans := make([]*plan, len(ds))
	var idx []int // activities in the batch, in changeset order
	for i, dl := range ds {
		p, err := d.plan(dl)
		if err != nil {
			errs[i] = crmerr.Permanent(fmt.Errorf("dynamics %s: %w", d.name, err))
			continue
		}
		plans[i] = p
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return
	}
	body, ctype := d.batchBody(plans, idx)
	r, err := d.do(ctx, "batch", http.MethodPost, "$batch", body, http.Header{
		"Content-Type": {ctype},
		"Prefer":       {"odata.continue-on-error"},
	})
	if err == nil && r.status != http.StatusOK {
		err = d.fail("batch", r)
	}
	var results []batchResult
	if err == nil {
		results, err = parseBatchResponse(r.header.Get("Content-Type"), r.body)
		if err != nil {
			err = crmerr.Retryable(fmt.Errorf("dynamics %s: batch: %w", d.name, err), 0)
		}
	}
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		d.metrics.pushes.WithLabelValues(d.name, "failed").Add(float64(len(idx)))
		return
	}
	log := d.log
	for n, i := range idx {
		if n >= len(results) {
			errs[i] = crmerr.Retryable(fmt.Errorf("dynamics %s: batch: changeset %d not executed", d.name, n+1), 0)
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
			continue
		}
		res := results[n]
		switch {
		case res.ok:
			d.metrics.pushes.WithLabelValues(d.name, "created").Inc()
		case alreadyExists(&res.resp):
			errs[i] = d.finish(ctx, log.With().Str("call_id", ds[i].Activity.CallID).Str("user", ds[i].Activity.User).Logger(), plans[i], "existed")
		default:
			errs[i] = d.fail("batch create", &res.resp)
			d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		}
	}
}

func boundary(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// batchBody writes one changeset per planned activity.
func (d *Dynamics) batchBody(plans []*plan, idx []int) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary(boundary("batch_"))
	for _, i := range idx {
		p := plans[i]
		var cs bytes.Buffer
		cw := multipart.NewWriter(&cs)
		_ = cw.SetBoundary(boundary("changeset_"))
		writeInner(cw, 1, "POST", APIPath+"phonecalls", nil, marshal(p.body))
		if p.complete != nil {
			writeInner(cw, 2, "PATCH", APIPath+"phonecalls("+p.id+")", map[string]string{"If-Match": "*"}, marshal(p.complete))
		}
		_ = cw.Close()
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
		_, _ = pw.Write(cs.Bytes())
	}
	_ = mw.Close()
	return buf.Bytes(), "multipart/mixed; boundary=" + mw.Boundary()
}

func writeInner(w *multipart.Writer, id int, method, path string, hdr map[string]string, body []byte) {
	pw, _ := w.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/http"},
		"Content-Transfer-Encoding": {"binary"},
		"Content-Id":                {fmt.Sprint(id)},
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n", method, path)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	_, _ = io.WriteString(pw, b.String())
	_, _ = pw.Write(body)
}

// batchResult is the outcome of one changeset: ok, or the failing answer.
type batchResult struct {
	ok   bool
	resp response
}

// maxParts bounds what a batch answer may hold.
const maxParts = 2000

// parseBatchResponse reads a $batch answer: per changeset either a nested
// multipart of successful answers, or the single answer that failed it.
func parseBatchResponse(ctype string, body []byte) ([]batchResult, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, fmt.Errorf("answer is not multipart (%q)", ctype)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []batchResult
	for len(out) < maxParts {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("part %d: %w", len(out)+1, err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return out, fmt.Errorf("part %d: content type: %w", len(out)+1, err)
		}
		switch {
		case strings.HasPrefix(pt, "multipart/"):
			res := batchResult{ok: true}
			inner := multipart.NewReader(part, pp["boundary"])
			for n := 0; ; n++ {
				ip, err := inner.NextPart()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil || n > maxParts {
					return out, fmt.Errorf("part %d: changeset: %v", len(out)+1, err)
				}
				r, err := readInner(ip)
				if err != nil {
					return out, fmt.Errorf("part %d: %w", len(out)+1, err)
				}
				if r.status < 200 || r.status > 299 {
					res = batchResult{resp: *r}
				}
			}
			out = append(out, res)
		case pt == "application/http":
			r, err := readInner(part)
			if err != nil {
				return out, fmt.Errorf("part %d: %w", len(out)+1, err)
			}
			out = append(out, batchResult{ok: r.status >= 200 && r.status <= 299, resp: *r})
		default:
			return out, fmt.Errorf("part %d: unexpected %q", len(out)+1, pt)
		}
	}
	return out, fmt.Errorf("more than %d parts", maxParts)
}

func readInner(r io.Reader) (*response, error) {
	resp, err := http.ReadResponse(bufio.NewReader(r), nil)
	if err != nil {
		return nil, fmt.Errorf("inner answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("inner answer body: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}
