package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
	"github.com/callbridge/callbridge/crmsync/internal/rest"
)

// Record is one Calls record: field API names as Zoho spells them.
type Record map[string]any

// maxText is a single-line field's length (255 characters).
const maxText = 255

// zohoTime writes a date-time as Zoho wants it: ISO 8601 with the offset
// spelt out, yyyy-MM-ddTHH:mm:ss±HH:mm (API "Field data types").
func zohoTime(a bridge.Activity) string { return a.StartedAt.UTC().Format("2006-01-02T15:04:05-07:00") }

// duration is Call_Duration, minutes and seconds of talk ("mm:ss").
func duration(talk float64) string {
	s := callinfo.Seconds(talk)
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// record maps a delivery to its Calls record. It makes no request.
func (z *Zoho) record(dl crmsync.Delivery) (Record, error) {
	a, as := dl.Activity, dl.Assignment
	if a.ID == "" {
		return nil, errors.New("activity without id")
	}
	m := callinfo.Match(z.rec, a)
	callType := "Inbound"
	switch {
	case a.Direction == bridge.Outbound:
		callType = "Outbound"
	case a.State != bridge.Connected:
		callType = "Missed"
	}
	rec := Record{
		"Subject":         z.subjects.Subject(a, m, as.Template, maxText),
		"Call_Type":       callType,
		"Call_Start_Time": zohoTime(a),
		"Call_Duration":   duration(a.TalkSeconds),
		"Description":     callinfo.Description(a),
		z.cfg.MarkerField: a.ID,
	}
	if a.Direction == bridge.Outbound {
		rec["Dialled_Number"] = callinfo.Number(a)
		if a.State != bridge.Connected {
			rec["Call_Result"] = "No response/Busy"
		}
	} else {
		rec["Caller_ID"] = callinfo.Number(a)
	}
	if owner, _ := z.users.Load().Owner(as, z.cfg.DefaultOwner); owner != "" {
		rec["Owner"] = map[string]string{"id": owner}
	}
	if as.Template != "" {
		rec[z.cfg.TemplateField] = callinfo.Truncate(as.Template, maxText)
	}
	if m != nil {
		// A call is for a contact (Who_Id) and related to a record of
		// another module (What_Id, named by $se_module): the contact's
		// account, an account, or a lead.
		switch m.EntitySet {
		case "Contacts":
			rec["Who_Id"] = map[string]string{"id": m.ID}
			if m.Org != "" {
				rec["What_Id"], rec["$se_module"] = map[string]string{"id": m.Org}, "Accounts"
			}
		default:
			rec["What_Id"], rec["$se_module"] = map[string]string{"id": m.ID}, m.EntitySet
		}
	}
	return rec, nil
}

// Push implements crmsync.Connector: it inserts the call, exactly once
// (see README.md).
func (z *Zoho) Push(ctx context.Context, dl crmsync.Delivery) error {
	errs := z.PushBatch(ctx, []crmsync.Delivery{dl})
	return errs[0]
}

// PushBatch implements crmsync.BatchPusher: inserts of up to BatchSize
// calls, each with its own result. Calls that may exist already are
// looked up with COQL first, 50 markers a query.
func (z *Zoho) PushBatch(ctx context.Context, ds []crmsync.Delivery) []error {
	errs := make([]error, len(ds))
	for start := 0; start < len(ds); start += z.cfg.BatchSize {
		end := min(start+z.cfg.BatchSize, len(ds))
		z.pushChunk(ctx, ds[start:end], errs[start:end])
	}
	return errs
}

func (z *Zoho) failAll(idx []int, errs []error, err error) {
	for _, i := range idx {
		errs[i] = err
	}
	z.c.Metrics.Pushes.WithLabelValues(z.name, "failed").Add(float64(len(idx)))
}

func (z *Zoho) pushChunk(ctx context.Context, ds []crmsync.Delivery, errs []error) {
	recs := make([]Record, len(ds))
	var idx, suspects []int
	for i, dl := range ds {
		if z.doubt.Written(dl.Activity.ID) {
			z.c.Pushed("existed") // written by this process already
			continue
		}
		rec, err := z.record(dl)
		if err != nil {
			errs[i] = crmerr.Permanent(z.c.Errorf("%w", err))
			z.c.Pushed("failed")
			continue
		}
		recs[i] = rec
		idx = append(idx, i)
		if _, ok := z.doubt.Suspect(dl.Activity.ID, dl.Activity.EndedAt); ok {
			suspects = append(suspects, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	// Zoho drops values of fields a module does not have without a word:
	// a missing marker field would make every lookup come back empty.
	needTemplate := false
	for _, i := range idx {
		_, t := recs[i][z.cfg.TemplateField]
		needTemplate = needTemplate || t
	}
	if err := z.checkFields(ctx, needTemplate); err != nil {
		z.failAll(idx, errs, err)
		return
	}
	if len(suspects) > 0 {
		ids := make([]string, len(suspects))
		for k, i := range suspects {
			ids[k] = ds[i].Activity.ID
		}
		found, err := z.find(ctx, ids)
		if err != nil {
			z.failAll(idx, errs, err)
			return
		}
		kept := idx[:0]
		for _, i := range idx {
			if found[ds[i].Activity.ID] {
				z.doubt.Wrote(ds[i].Activity.ID)
				z.c.Pushed("existed")
				continue
			}
			kept = append(kept, i)
		}
		idx = kept
		if len(idx) == 0 {
			return
		}
	}
	body := map[string]any{"data": pick(recs, idx), "trigger": []string{}}
	r, err := z.c.DoJSON(ctx, "create", http.MethodPost, z.api+"Calls", body, nil)
	if err != nil {
		for _, i := range idx {
			z.doubt.Mark(ds[i].Activity.ID) // they may have been inserted
		}
		z.failAll(idx, errs, err)
		return
	}
	var res struct {
		Data []zError `json:"data"`
	}
	if json.Unmarshal(r.Body, &res) != nil || len(res.Data) != len(idx) {
		// Not an answer per record: the request failed as a whole.
		if r.Status >= 500 || r.OK() {
			for _, i := range idx {
				z.doubt.Mark(ds[i].Activity.ID)
			}
		}
		if r.OK() {
			z.failAll(idx, errs, z.c.Unexpected("create", errors.New("no result per record")))
			return
		}
		z.failAll(idx, errs, z.c.Fail("create", r))
		return
	}
	for k, i := range idx {
		e := res.Data[k]
		id := ds[i].Activity.ID
		switch {
		case e.Code == "SUCCESS":
			z.doubt.Wrote(id)
			z.c.Pushed("created")
		case e.Code == "DUPLICATE_DATA" && e.Details["api_name"] == z.cfg.MarkerField:
			// The marker field is unique and the call is there already.
			z.doubt.Wrote(id)
			z.c.Pushed("existed")
		default:
			errs[i] = z.c.FailWith("create", &rest.Response{Status: http.StatusBadRequest, Header: r.Header}, classify(e))
			z.c.Pushed("failed")
		}
	}
}

func pick(recs []Record, idx []int) []Record {
	out := make([]Record, len(idx))
	for k, i := range idx {
		out[k] = recs[i]
	}
	return out
}

// coqlIn is how many values COQL's IN takes ("in (up to 50 values)",
// Query API limitations).
const coqlIn = 50

// coqlString quotes s as a COQL string literal.
func coqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// find looks activities up by marker with COQL, which reads what was just
// written.
func (z *Zoho) find(ctx context.Context, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	for start := 0; start < len(ids); start += coqlIn {
		chunk := ids[start:min(start+coqlIn, len(ids))]
		quoted := make([]string, len(chunk))
		for i, id := range chunk {
			quoted[i] = coqlString(id)
		}
		q := fmt.Sprintf("select id, %s from Calls where %s in (%s) limit 200", z.cfg.MarkerField, z.cfg.MarkerField, strings.Join(quoted, ", "))
		r, err := z.c.DoJSON(ctx, "find", http.MethodPost, z.api+"coql", map[string]string{"select_query": q}, nil)
		if err != nil {
			return nil, err
		}
		if r.Status == http.StatusNoContent {
			continue // nothing matched
		}
		if !r.OK() {
			return nil, z.c.Fail("find", r)
		}
		var res struct {
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &res); err != nil {
			return nil, z.c.Unexpected("find", err)
		}
		for _, row := range res.Data {
			if v, ok := row[z.cfg.MarkerField].(string); ok {
				found[v] = true
			}
		}
	}
	return found, nil
}

// checkFields makes sure, once, that the Calls module has the marker
// field, and the template field when a record carries a template code.
func (z *Zoho) checkFields(ctx context.Context, needTemplate bool) error {
	z.fieldsMu.Lock()
	defer z.fieldsMu.Unlock()
	if z.fields == nil {
		r, err := z.c.Do(ctx, "fields", http.MethodGet, z.api+"settings/fields?module=Calls", nil, nil)
		if err != nil {
			return err
		}
		if !r.OK() {
			return z.c.Fail("fields", r)
		}
		var res struct {
			Fields []struct {
				APIName string `json:"api_name"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(r.Body, &res); err != nil {
			return z.c.Unexpected("fields", err)
		}
		z.fields = map[string]bool{}
		for _, f := range res.Fields {
			z.fields[f.APIName] = true
		}
	}
	need := []string{z.cfg.MarkerField}
	if needTemplate {
		need = append(need, z.cfg.TemplateField)
	}
	for _, f := range need {
		if !z.fields[f] {
			z.fields = nil // look again next time: the field may be created meanwhile
			return crmerr.Permanent(z.c.Errorf("the Calls module has no field %s (Zoho would drop its value): create it, see the README", f))
		}
	}
	return nil
}
