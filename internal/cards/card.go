package cards

import (
	"maps"
	"slices"
	"strings"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/internal/script"
)

// maxRecords bounds the records a card lists.
const maxRecords = 5

// numberForms is a number's E.164 and national forms ("" when it has
// none).
type numberForms struct{ e164, national string }

// maxForms bounds the numbers whose forms are remembered.
const maxForms = 4096

// forms gives number's forms, remembering them: the national form takes
// a full parse and format (tens of microseconds), and a PBX sees the
// same numbers again and again, its own DDIs above all. Called under
// e.mu.
func (e *Engine) forms(number string) numberForms {
	if f, ok := e.numbers[number]; ok {
		return f
	}
	var f numberForms
	if e164, ok := e.opt.Normalizer.Normalize(number); ok {
		f = numberForms{e164, e.opt.Normalizer.National(e164)}
	}
	if len(e.numbers) >= maxForms {
		clear(e.numbers)
	}
	if e.numbers == nil {
		e.numbers = make(map[string]numberForms)
	}
	e.numbers[number] = f
	return f
}

// build fills the card for c.remote: its number's forms, the line's name,
// the records the call type's rule finds, the pop and the scripts.
func (e *Engine) build(c *call) {
	card := &c.card
	card.RemoteNumber, card.RemoteName = c.remote, c.remoteName
	remote := e.forms(c.remote)
	card.RemoteE164, card.RemoteNational = remote.e164, remote.national
	card.DDINational, card.DDIName = "", ""
	var ddi numberForms
	if card.DDINumber != "" {
		ddi = e.forms(card.DDINumber)
		card.DDINational = ddi.national
		if e.opt.DDIName != nil {
			card.DDIName = e.opt.DDIName(card.DDINumber)
		}
	}
	rule := c.pop.Rule(card.Type)
	card.Records, card.PopURL, card.NewRecord = nil, "", false
	lookup := card.RemoteE164
	if lookup == "" {
		lookup = c.remote
	}
	if e.opt.Finder != nil && rule.Connector != crmsync.NoSearch && lookup != "" {
		card.Records = ownRecords(e.opt.Finder.Find(rule.Connector, lookup, rule.Entities))
	}
	if card.Records == nil {
		card.Records = []Record{} // "records": [], not null
	}
	vals := values(card, ddi.e164)
	if rule.URL != "" {
		if t := e.template(rule.URL); t != nil {
			card.PopURL, _ = t.Render(vals)
		}
	}
	switch {
	case card.PopURL != "":
	case len(card.Records) > 0:
		card.PopURL = card.Records[0].URL
	case rule.AddNewRecord && e.opt.Finder != nil && rule.Connector != crmsync.NoSearch && lookup != "":
		entity := ""
		if len(rule.Entities) > 0 {
			entity = rule.Entities[0]
		}
		card.PopURL = e.opt.Finder.NewRecordURL(rule.Connector, entity, lookup)
		card.NewRecord = card.PopURL != ""
	}
	card.Scripts = []Link{} // a new array: the events sent keep the old one
	for _, group := range e.opt.Scripts {
		v := vals
		if len(card.Records) == 0 || card.Records[0].Connector != group.Connector {
			v.Record = nil // another CRM's records are not this one's
		}
		for _, t := range group.Templates {
			if u, ok := t.Render(v); ok {
				card.Scripts = append(card.Scripts, Link{Connector: group.Connector, Name: t.Name(), URL: u})
			}
		}
	}
}

// values are what the card's templates are rendered with.
func values(card *Card, ddiE164 string) script.Call {
	v := script.Call{
		CallerNumber: card.RemoteNumber, CallerNational: card.RemoteNational, CallerE164: card.RemoteE164,
		CallerName: card.RemoteName, DeviceName: card.DeviceName, DeviceNumber: card.DeviceNumber,
		DDINumber: card.DDINumber, DDINational: card.DDINational, DDIName: card.DDIName, DDIE164: ddiE164, Start: card.StartedAt,
	}
	if v.DeviceName == "" {
		v.DeviceName = card.DeviceNumber
	}
	if len(card.Records) > 0 {
		r := card.Records[0]
		if r.Name != "" {
			v.CallerName = r.Name
		}
		v.Record = map[string]string{"id": r.ID, "name": r.Name, "entity": r.Entity}
		for k, f := range r.Fields {
			v.Record[strings.ToLower(k)] = f
		}
	}
	return v
}

// template parses a rule's URL once (config check has vetted it).
func (e *Engine) template(u string) *script.Template {
	if t, ok := e.tmpl.Load(u); ok {
		return t.(*script.Template)
	}
	t, err := script.Parse("screen pop", u, func(string) bool { return true })
	if err != nil {
		return nil
	}
	e.tmpl.Store(u, t)
	return t
}

// ownRecords is the card's own copy of what a Finder found, at most
// maxRecords of them: what the finder does with its records later does
// not reach the card or the events it is sent in.
func ownRecords(found []Record) []Record {
	if len(found) == 0 {
		return nil
	}
	out := slices.Clone(found[:min(len(found), maxRecords)])
	for i := range out {
		out[i].Fields = maps.Clone(out[i].Fields)
	}
	return out
}
