package fakedataverse

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
)

// undo records how to reverse one change, for changesets.
type undo struct {
	id   string
	prev Record // nil: the record did not exist
}

// writeHTTP writes rec as an embedded HTTP answer.
func (r *recorder) writeHTTP(w io.Writer, contentID string) {
	if r.status == 0 {
		r.status = 200
	}
	if contentID != "" {
		fmt.Fprintf(w, "Content-ID: %s\r\n", contentID)
	}
	fmt.Fprintf(w, "\r\nHTTP/1.1 %d %s\r\n", r.status, http.StatusText(r.status))
	for k, v := range r.header {
		for _, x := range v {
			fmt.Fprintf(w, "%s: %s\r\n", k, x)
		}
	}
	fmt.Fprintf(w, "\r\n%s", r.body.Bytes())
}

// batch executes a $batch: changesets atomically, in order; without
// Prefer: odata.continue-on-error it stops at the first failure.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, body []byte) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: Content-Type must be multipart/mixed with a boundary")
		return
	}
	cont := strings.Contains(r.Header.Get("Prefer"), "odata.continue-on-error")
	origin := "http://" + r.Host
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	ob := "batchresponse_" + randHex()
	failed := false
	n := 0
	for !failed || cont {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: malformed multipart: %v", err)
			return
		}
		if n++; n > 1000 {
			dvErr(w, http.StatusBadRequest, "0x80048d19", "The maximum number of requests in a batch is 1000.")
			return
		}
		pt, pp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		fmt.Fprintf(&out, "--%s\r\n", ob)
		switch pt {
		case "multipart/mixed":
			var log []undo
			var oks []*recorder
			var ids []string
			var bad *recorder
			cr := multipart.NewReader(part, pp["boundary"])
			for {
				ip, err := cr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: malformed changeset: %v", err)
					return
				}
				rec := s.inner(ip, origin, &log)
				if rec.status >= 300 {
					bad = rec
					break
				}
				oks = append(oks, rec)
				ids = append(ids, ip.Header.Get("Content-ID"))
			}
			if bad != nil {
				s.rollback(log)
				failed = true
				out.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
				bad.writeHTTP(&out, "")
				out.WriteString("\r\n")
				continue
			}
			cb := "changesetresponse_" + randHex()
			fmt.Fprintf(&out, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n", cb)
			for i, rec := range oks {
				fmt.Fprintf(&out, "--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n", cb)
				rec.writeHTTP(&out, ids[i])
				out.WriteString("\r\n")
			}
			fmt.Fprintf(&out, "--%s--\r\n", cb)
		case "application/http":
			rec := s.inner(part, origin, nil)
			if rec.status >= 300 {
				failed = true
			}
			out.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
			rec.writeHTTP(&out, "")
			out.WriteString("\r\n")
		default:
			dvErr(w, http.StatusBadRequest, "0x80048d19", "$batch: unexpected part type %q", pt)
			return
		}
	}
	fmt.Fprintf(&out, "--%s--\r\n", ob)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+ob)
	w.Header().Set("OData-Version", "4.0")
	_, _ = w.Write(out.Bytes())
}

func (s *Server) inner(part io.Reader, origin string, log *[]undo) *recorder {
	rec := newRecorder()
	// An embedded request runs to the boundary; it has no Content-Length.
	raw, err := io.ReadAll(io.LimitReader(part, 4<<20))
	head, body, found := bytes.Cut(raw, []byte("\r\n\r\n"))
	if err != nil || !found {
		dvErr(rec, http.StatusBadRequest, "0x80048d19", "$batch: malformed request part")
		return rec
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))))
	if err != nil {
		dvErr(rec, http.StatusBadRequest, "0x80048d19", "$batch: malformed request: %v", err)
		return rec
	}
	body = bytes.TrimRight(body, "\r\n")
	path, ok := strings.CutPrefix(req.URL.Path, APIPath)
	if !ok {
		dvErr(rec, http.StatusBadRequest, "0x80048d19", "$batch: request URL %q outside the service", req.URL.Path)
		return rec
	}
	s.route(rec, req.Method, path, req.URL.Query(), req.Header, body, origin, log)
	return rec
}

func (s *Server) rollback(log []undo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(log) - 1; i >= 0; i-- {
		u := log[i]
		if u.prev == nil {
			delete(s.phonecalls, u.id)
			if k := slices.Index(s.pcOrder, u.id); k >= 0 {
				s.pcOrder = slices.Delete(s.pcOrder, k, k+1)
			}
		} else {
			s.phonecalls[u.id] = u.prev
		}
	}
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
