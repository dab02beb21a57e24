package app

import (
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari"
	"github.com/callbridge/callbridge/ari/ami"
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/routing"
)

// The caller cards are also the users' presence that routing's when_free
// asks.
var _ routing.Presence = (*cards.Engine)(nil)

// newDesk builds the agents' caller cards from cfg (deskOptions) over the
// delivery crm (nil: no CRM). clock nil: the wall clock.
func newDesk(cfg *config.Config, crm *Delivery, clock cards.Clock, reg prometheus.Registerer) (*cards.Engine, error) {
	opt, err := deskOptions(cfg, crm)
	if err != nil {
		return nil, err
	}
	opt.Clock, opt.Registerer = clock, reg
	return cards.New(opt), nil
}

// deskOptions are the caller cards' settings in cfg: the directory, the
// screen-pop settings, the line names, the CRMs' phone indexes (those of
// crm, the delivery in force) and scripts. A reload puts them in force
// with cards.Engine.Reconfigure.
func deskOptions(cfg *config.Config, crm *Delivery) (cards.Options, error) {
	opt := cards.Options{
		ScreenPop:  cfg.Policy.ScreenPopOf,
		Normalizer: cfg.Normalizer(),
		DDIName:    cfg.DDINamer(),
		Pattern:    cfg.EngineConfig().ExtensionPattern.MatchString,
	}
	for _, u := range cfg.Users {
		opt.Users = append(opt.Users, cards.User{Extension: u.Extension, Name: u.Name})
	}
	for i, cc := range cfg.CRM {
		ts, err := cc.ScriptTemplates()
		if err != nil {
			return cards.Options{}, fmt.Errorf("crm[%d]: %w", i, err)
		}
		if len(ts) > 0 {
			opt.Scripts = append(opt.Scripts, cards.Scripts{Connector: cc.InstanceName(), Templates: ts})
		}
	}
	if crm != nil {
		opt.Finder = newFinder(cfg, crm)
	}
	return opt, nil
}

// finder is the phone indexes as the caller card searches them. A
// record's fields and page come from the index's own record (the
// source's URL); a connector whose source keeps no URL (Dynamics, whose
// pages follow from the id) links through its crmsync.RecordLinker.
type finder struct {
	set      *phoneindex.Set
	order    []string                       // connectors with recognition, as crm[] lists them
	entities map[string][]phoneindex.Entity // their recognition entities
	conns    []crmsync.Connector
	links    map[string]crmsync.RecordLinker
}

func newFinder(cfg *config.Config, d *Delivery) finder {
	f := finder{set: d.Recognizers, entities: map[string][]phoneindex.Entity{}, conns: d.conns, links: linkers(d)}
	for _, cc := range cfg.CRM {
		rs, on := cc.RecognitionSettings()
		if !on {
			continue
		}
		name := cc.InstanceName()
		f.order = append(f.order, name)
		f.entities[name] = rs.Entities
	}
	return f
}

func linkers(d *Delivery) map[string]crmsync.RecordLinker {
	out := map[string]crmsync.RecordLinker{}
	for _, c := range d.conns {
		if l, ok := c.(crmsync.RecordLinker); ok {
			out[c.Name()] = l
		}
	}
	return out
}

func (f finder) connector(name string) string {
	if name == "" && len(f.order) > 0 {
		return f.order[0]
	}
	return name
}

// Find implements cards.Finder.
func (f finder) Find(connector, number string, entities []string) []cards.Record {
	name := f.connector(connector)
	in := f.set.Get(name)
	if in == nil {
		return nil
	}
	m, ok := in.Lookup(number)
	if !ok {
		return nil
	}
	var out []cards.Record
	for _, c := range m.Candidates {
		if len(entities) > 0 && !slices.Contains(entities, c.Entity) {
			continue
		}
		r := cards.Record{Connector: name, Entity: c.Entity, ID: c.ID, Name: c.Name, Kind: string(c.Kind), Exact: c.Exact, Fields: c.Fields, URL: c.URL}
		r.URL = recordURL(f.conns, name, c)
		out = append(out, r)
	}
	return out
}

// NewRecordURL implements cards.Finder: the form of the entity (its
// first phone field set), or of the connector's first entity.
func (f finder) NewRecordURL(connector, entity, number string) string {
	name := f.connector(connector)
	l := f.links[name]
	if l == nil {
		return ""
	}
	for _, e := range f.entities[name] {
		if (entity == "" || e.Name == entity) && len(e.PhoneFields) > 0 {
			return l.NewRecordURL(e.Name, e.PhoneFields[0], number)
		}
	}
	return ""
}

// clickToDial is click-to-dial as configured: through ARI or AMI, nil
// when it is off or neither is on.
func clickToDial(cfg *config.Config, log zerolog.Logger) (*api.ClickToDial, error) {
	d := cfg.ClickToDial
	if !d.On() {
		return nil, nil
	}
	var dialer api.Dialer
	switch cfg.DialSource() {
	case "ari":
		o, err := ari.NewOriginator(ari.OriginateConfig{URL: cfg.ARI.URL, Username: cfg.ARI.Username, Password: cfg.ARI.Password.Value(),
			Context: d.Context, RingTimeout: d.RingTimeout})
		if err != nil {
			return nil, fmt.Errorf("click_to_dial: %w", err)
		}
		dialer = o
	case "ami":
		o, err := ami.NewOriginator(ami.OriginateConfig{Conn: ami.Config{Host: cfg.AMI.Host, Port: cfg.AMI.Port, Username: cfg.AMI.Username,
			Secret: cfg.AMI.Secret.Value(), MD5: true, TLS: cfg.AMI.TLS, Logger: log}, Context: d.Context, RingTimeout: d.RingTimeout})
		if err != nil {
			return nil, fmt.Errorf("click_to_dial: %w", err)
		}
		dialer = o
	default:
		return nil, nil
	}
	return &api.ClickToDial{Dialer: dialer, Device: cfg.Device, CallerID: cfg.DialCallerID}, nil
}
