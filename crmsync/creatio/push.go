package creatio

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/crmerr"
	"github.com/callbridge/callbridge/crmsync/internal/callinfo"
)

// Creatio's standard lookup values (the base configuration's
// ActivityConsts and CallConsts).
const (
	activityTypeTask       = "fbe0acdc-cfc0-df11-b00f-001d60e938c6"
	activityCategoryCall   = "03df85bf-6b19-4dea-8463-d5d49b80bb28"
	activityStatusDone     = "4bdbb88f-58e6-df11-971b-001d60e938c6"
	activityStatusNotBegun = "384d4b84-58e6-df11-971b-001d60e938c6"
	callDirectionIn        = "1d96a65f-2131-4916-8825-2d142b1000b2"
	callDirectionOut       = "53f71b5b-5d46-4ee2-8ea4-a4f8fc76a8ae"
)

// Lengths of Caption and Title (250), and of the telephony text columns.
const (
	maxCaption = 250
	maxText    = 250
)

// recordNamespace is the UUIDv5 namespace of record ids. Fixed forever:
// changing it would make every retried activity a new record.
var recordNamespace = [16]byte{0x3a, 0x71, 0x0c, 0x5e, 0x92, 0x4b, 0x4f, 0x08, 0xb1, 0x6d, 0x2e, 0x58, 0xc7, 0x03, 0x9f, 0x41}

// RecordID is the Id of the record of kind ("call", "activity") written
// for activity id: a name-based (version 5) UUID, the same on every push
// and every install.
func RecordID(activityID, kind string) string {
	h := sha1.New()
	h.Write(recordNamespace[:])
	h.Write([]byte(activityID + "/" + kind))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// odataTime writes an Edm.DateTimeOffset, UTC, to the second.
func odataTime(a bridge.Activity, end bool) string {
	t := a.StartedAt
	if end {
		t = a.EndedAt
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// Record is a create body: column names as OData spells them.
type Record map[string]any

type write struct {
	entity string // "Call", "Activity"
	id     string
	body   Record
}

// writes maps a delivery to what is written. It makes no request.
func (k *Creatio) writes(dl crmsync.Delivery) ([]write, error) {
	a, as := dl.Activity, dl.Assignment
	if a.ID == "" {
		return nil, errors.New("activity without id")
	}
	m := callinfo.Match(k.rec, a)
	caption := k.subjects.Subject(a, m, as.Template, maxCaption)
	var contact, account string
	if m != nil {
		switch m.EntitySet {
		case "Contact":
			contact, account = m.ID, m.Org
		case "Account":
			account = m.ID
		}
	}
	owner, _ := k.users.Load().Owner(as, k.cfg.DefaultOwner)
	var out []write
	if k.cfg.Write != WriteActivity {
		dir, caller, called := callDirectionIn, callinfo.Number(a), a.LocalNumber
		if a.DDI != "" {
			called = a.DDI
		}
		if a.Direction == bridge.Outbound {
			dir, caller, called = callDirectionOut, a.LocalNumber, callinfo.Number(a)
		}
		id := RecordID(a.ID, "call")
		body := Record{
			"Id": id, "Caption": caption, "StartDate": odataTime(a, false), "EndDate": odataTime(a, true),
			"Duration": callinfo.Seconds(a.EndedAt.Sub(a.StartedAt).Seconds()), "TalkTime": callinfo.Seconds(a.TalkSeconds),
			"CallerId": callinfo.Truncate(caller, maxText), "CalledId": callinfo.Truncate(called, maxText), "DirectionId": dir,
			"IntegrationId": callinfo.Truncate(a.CallID, maxText),
		}
		k.links(body, contact, account, "", as.Template)
		out = append(out, write{"Call", id, body})
	}
	if k.cfg.Write != WriteCall {
		status := activityStatusDone
		if a.State != bridge.Connected {
			status = activityStatusNotBegun // a missed call: a to-do to call back
		}
		id := RecordID(a.ID, "activity")
		body := Record{
			"Id": id, "Title": caption, "StartDate": odataTime(a, false), "DueDate": odataTime(a, true),
			"TypeId": activityTypeTask, "ActivityCategoryId": activityCategoryCall, "StatusId": status,
			"DetailedResult": callinfo.Description(a),
		}
		k.links(body, contact, account, owner, as.Template)
		out = append(out, write{"Activity", id, body})
	}
	return out, nil
}

func (k *Creatio) links(b Record, contact, account, owner, template string) {
	if contact != "" {
		b["ContactId"] = contact
	}
	if account != "" {
		b["AccountId"] = account
	}
	if owner != "" {
		b["OwnerId"] = owner
	}
	if template != "" {
		b[k.cfg.TemplateField] = callinfo.Truncate(template, maxText)
	}
}

// Push implements crmsync.Connector: it creates the call's records, each
// exactly once (see README.md).
func (k *Creatio) Push(ctx context.Context, dl crmsync.Delivery) error {
	ws, err := k.writes(dl)
	if err != nil {
		k.c.Pushed("failed")
		return crmerr.Permanent(k.c.Errorf("%w", err))
	}
	for _, w := range ws {
		if err := k.create(ctx, dl, w); err != nil {
			k.c.Pushed("failed")
			return err
		}
	}
	return nil
}

func (k *Creatio) create(ctx context.Context, dl crmsync.Delivery, w write) error {
	key := dl.Activity.ID + "/" + w.entity
	if k.doubt.Written(key) {
		k.c.Pushed("existed")
		return nil
	}
	if _, suspect := k.doubt.Suspect(key, dl.Activity.EndedAt); suspect {
		found, err := k.exists(ctx, w)
		if err != nil {
			return err
		}
		if found {
			k.doubt.Wrote(key)
			k.c.Pushed("existed")
			return nil
		}
	}
	r, err := k.c.DoJSON(ctx, "create", http.MethodPost, k.odata+w.entity, w.body, nil)
	if err != nil {
		k.doubt.Mark(key)
		return err
	}
	if r.OK() {
		k.doubt.Wrote(key)
		k.c.Pushed("created")
		return nil
	}
	// The Id is taken (a retry of a create that succeeded), or the server
	// failed halfway: whichever, the record's Id says whether it is there.
	if r.Status == http.StatusConflict || r.Status >= 500 || strings.Contains(strings.ToLower(string(r.Body)), "duplicate") {
		if found, ferr := k.exists(ctx, w); ferr == nil && found {
			k.doubt.Wrote(key)
			k.c.Pushed("existed")
			return nil
		}
		if r.Status >= 500 {
			k.doubt.Mark(key)
		}
	}
	return k.c.Fail("create "+w.entity, r)
}

// exists reads the record by its Id.
func (k *Creatio) exists(ctx context.Context, w write) (bool, error) {
	r, err := k.c.Do(ctx, "find", http.MethodGet, k.odata+w.entity+"("+w.id+")?$select=Id", nil, nil)
	if err != nil {
		return false, err
	}
	switch {
	case r.OK():
		return true, nil
	case r.Status == http.StatusNotFound:
		return false, nil
	}
	return false, k.c.Fail("find", r)
}
