package dynamics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
)

// maxDescription is the phonecall description's length in Dataverse.
const maxDescription = 2000

// current is what Update reads of a phonecall first.
type current struct {
	State       int    `json:"statecode"`
	Status      int    `json:"statuscode"`
	Outbound    bool   `json:"directioncode"`
	Description string `json:"description"`
	values      map[string]any
}

// Update implements crmsync.Updater: it writes u's wrap-up to the
// configured columns (wrapup.field, wrapup.notes_field; the description
// where none is set) and completes the phonecall when u asks and it is
// open. Dataverse refuses edits of a closed phonecall, so a completed one
// is reopened, edited and closed again in one atomic changeset. Values
// already written are not written again, which makes a repeated update a
// no-op.
func (d *Dynamics) Update(ctx context.Context, u crmsync.UpdateRequest) error {
	log := d.log.With().Str("call_id", u.CallID).Str("user", u.User).Logger()
	id := RecordID(u.ActivityID)
	cur, err := d.readForUpdate(ctx, id)
	if err != nil {
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		return err
	}
	fields := d.wrapupFields(u.Wrapup, cur)
	closed := cur.State != stateOpen
	var ops []any
	switch {
	case len(fields) > 0 && closed:
		ops = append(ops, completion{State: stateOpen, Status: 1}, fields, completion{State: cur.State, Status: cur.Status})
	case len(fields) > 0 && u.Complete:
		ops = append(ops, fields, d.completed(cur.Outbound))
	case len(fields) > 0:
		ops = append(ops, fields)
	case u.Complete && !closed:
		ops = append(ops, d.completed(cur.Outbound))
	}
	if len(ops) == 0 {
		d.metrics.pushes.WithLabelValues(d.name, "unchanged").Inc()
		return nil
	}
	if err := d.patchAll(ctx, id, ops); err != nil {
		d.metrics.pushes.WithLabelValues(d.name, "failed").Inc()
		log.Debug().Err(err).Msg("dynamics update failed")
		return err
	}
	d.metrics.pushes.WithLabelValues(d.name, "updated").Inc()
	return nil
}

func (d *Dynamics) completed(outbound bool) completion {
	if outbound {
		return completion{State: stateCompleted, Status: statusMade}
	}
	return completion{State: stateCompleted, Status: statusReceived}
}

// readForUpdate reads the phonecall's state, direction, description and
// wrap-up columns.
func (d *Dynamics) readForUpdate(ctx context.Context, id string) (*current, error) {
	sel := []string{"statecode", "statuscode", "directioncode", "description"}
	for _, c := range []string{d.cfg.Wrapup.Field, d.cfg.Wrapup.NotesField} {
		if c != "" && c != "description" {
			sel = append(sel, c)
		}
	}
	r, err := d.do(ctx, "read", http.MethodGet, "phonecalls("+id+")?$select="+strings.Join(sel, ","), nil, nil)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusNotFound {
		return nil, crmerr.Permanent(fmt.Errorf("dynamics %s: phonecall %s is not in the CRM (deleted there?)", d.name, id))
	}
	if r.status != http.StatusOK {
		return nil, d.fail("read", r)
	}
	var cur current
	if err := json.Unmarshal(r.body, &cur); err != nil {
		return nil, crmerr.Retryable(fmt.Errorf("dynamics %s: read: undecodable answer", d.name), 0)
	}
	_ = json.Unmarshal(r.body, &cur.values)
	return &cur, nil
}

// wrapupFields are the columns w changes on a phonecall as cur holds it.
func (d *Dynamics) wrapupFields(w *crmsync.Wrapup, cur *current) Phonecall {
	out := Phonecall{}
	if w == nil {
		return out
	}
	var lines []string
	if f := d.cfg.Wrapup.Field; f != "" {
		if cur.values[f] != w.Code {
			out[f] = w.Code
		}
	} else {
		lines = append(lines, "Wrap-up: "+w.Code)
	}
	if w.Notes != "" {
		if f := d.cfg.Wrapup.NotesField; f != "" && f != "description" {
			if cur.values[f] != w.Notes {
				out[f] = w.Notes
			}
		} else {
			lines = append(lines, "Wrap-up notes: "+w.Notes)
		}
	}
	// One wrap-up per activity: a description that has one already
	// (this update, repeated) is left alone.
	if len(lines) > 0 && !strings.HasPrefix(cur.Description, "Wrap-up") && !strings.Contains(cur.Description, "\nWrap-up") {
		out["description"] = appendDescription(cur.Description, strings.Join(lines, "\n"))
	}
	return out
}

// appendDescription adds block to desc on a line of its own, cutting the
// block (never the earlier text) to the description's length.
func appendDescription(desc, block string) string {
	if desc != "" {
		block = "\n" + block
	}
	room := maxDescription - utf8.RuneCountInString(desc)
	if room <= 1 {
		return desc
	}
	return desc + truncate(block, room)
}

// patchAll applies ops (bodies) to phonecall id in order: one PATCH, or
// a $batch with one changeset, so they apply together or not at all.
func (d *Dynamics) patchAll(ctx context.Context, id string, ops []any) error {
	path := "phonecalls(" + id + ")"
	if len(ops) == 1 {
		r, err := d.do(ctx, "update", http.MethodPatch, path, marshal(ops[0]), http.Header{"If-Match": {"*"}})
		if err != nil {
			return err
		}
		if r.status < 200 || r.status > 299 {
			return d.fail("update", r)
		}
		return nil
	}
	var buf, cs bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary(boundary("batch_"))
	cw := multipart.NewWriter(&cs)
	_ = cw.SetBoundary(boundary("changeset_"))
	for i, op := range ops {
		writeInner(cw, i+1, "PATCH", APIPath+path, map[string]string{"If-Match": "*"}, marshal(op))
	}
	_ = cw.Close()
	pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
	_, _ = pw.Write(cs.Bytes())
	_ = mw.Close()
	r, err := d.do(ctx, "update", http.MethodPost, "$batch", buf.Bytes(), http.Header{"Content-Type": {"multipart/mixed; boundary=" + mw.Boundary()}})
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return d.fail("update", r)
	}
	res, err := parseBatchResponse(r.header.Get("Content-Type"), r.body)
	if err != nil || len(res) != 1 {
		return crmerr.Retryable(fmt.Errorf("dynamics %s: update: unreadable batch answer: %v", d.name, err), 0)
	}
	if !res[0].ok {
		return d.fail("update", &res[0].resp)
	}
	return nil
}
