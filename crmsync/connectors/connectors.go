package connectors

import (
	"reflect"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/creatio"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/hubspot"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/pipedrive"
	"github.com/callbridge/callbridge/crmsync/salesforce"
	"github.com/callbridge/callbridge/crmsync/webhook"
	"github.com/callbridge/callbridge/crmsync/zoho"
)

// Types maps connector types to how they are configured and built. It is
// the one place a new connector is added.
var Types = map[string]Type{
	"webhook": newType(func(name string, c webhook.Config, deps Deps) (crmsync.Connector, error) {
		opts := webhook.Options{Logger: deps.Logger, Registerer: deps.Registerer}
		// The webhook has no index of its own: it borrows another
		// connector's (CheckReferences makes sure there is one).
		if c.RecognitionFrom != "" && deps.Recognizers != nil {
			opts.Recognizer = deps.Recognizers.For(c.RecognitionFrom)
		}
		return webhook.New(name, c, opts)
	}),
	"dynamics": newType(func(name string, c dynamics.Config, deps Deps) (crmsync.Connector, error) {
		opts := dynamics.Options{Logger: deps.Logger, Registerer: deps.Registerer, Recognizer: deps.Recognizer}
		return dynamics.New(name, c, opts)
	}, entities(phoneindex.DefaultEntities), readsFields),
	"salesforce": newType(func(name string, c salesforce.Config, deps Deps) (crmsync.Connector, error) {
		opts := salesforce.Options{Logger: deps.Logger, Registerer: deps.Registerer, Recognizer: deps.Recognizer}
		return salesforce.New(name, c, opts)
	}, entities(salesforce.DefaultEntities), readsFields),
	"hubspot": newType(func(name string, c hubspot.Config, deps Deps) (crmsync.Connector, error) {
		opts := hubspot.Options{Logger: deps.Logger, Registerer: deps.Registerer, Recognizer: deps.Recognizer}
		return hubspot.New(name, c, opts)
	}, entities(hubspot.DefaultEntities), readsFields),
	"zoho": newType(func(name string, c zoho.Config, deps Deps) (crmsync.Connector, error) {
		opts := zoho.Options{Logger: deps.Logger, Registerer: deps.Registerer, Recognizer: deps.Recognizer}
		return zoho.New(name, c, opts)
	}, entities(zoho.DefaultEntities), readsFields),
	"pipedrive": newType(func(name string, c pipedrive.Config, deps Deps) (crmsync.Connector, error) {
		opts := pipedrive.Options{Logger: deps.Logger, Registerer: deps.Registerer, Recognizer: deps.Recognizer}
		return pipedrive.New(name, c, opts)
	}, entities(pipedrive.DefaultEntities), readsFields),
	"creatio": newType(func(name string, c creatio.Config, deps Deps) (crmsync.Connector, error) {
		opts := creatio.Options{Logger: deps.Logger, Registerer: deps.Registerer, Recognizer: deps.Recognizer}
		return creatio.New(name, c, opts)
	}, entities(creatio.DefaultEntities), readsFields),
}

// Settings is one connector type's configuration section.
type Settings interface {
	// Validate returns every problem, joined, naming keys relative to
	// the section.
	Validate() error
}

// Type is one kind of connector.
type Type struct {
	// settings is the section's Go type (a pointer to a struct).
	settings reflect.Type
	// build makes the connector from its settings.
	build func(name string, s Settings, deps Deps) (crmsync.Connector, error)
	// entities are the CRM records recognition reads when recognition:
	// names none; nil: the connector cannot list its CRM's records, so it
	// cannot feed a phone index.
	entities func() []phoneindex.Entity
	// readsFields: its source reads recognition.entities[].fields (into
	// the record's name, or its Fields as Dynamics does); a type whose source does not refuses them, as
	// a setting that does nothing.
	readsFields bool
}

// Deps are what a connector gets from the daemon.
type Deps struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Recognizer is this connector's caller lookup, when recognition is
	// on for it (nil: none).
	Recognizer phoneindex.Recognizer
	// Recognizers are every connector's phone indexes, for a connector
	// that borrows another's (the webhook's recognition_from); nil: none.
	Recognizers *phoneindex.Set
}

type option func(*Type)

// entities marks a type whose connector implements phoneindex.Source,
// reading these records (its CRM's people and organisations with numbers)
// unless recognition.entities says otherwise.
func entities(defaults func() []phoneindex.Entity) option {
	return func(t *Type) { t.entities = defaults }
}

// readsFields marks a type whose source reads recognition.entities[].fields.
func readsFields(t *Type) { t.readsFields = true }

// newType registers a connector whose settings section decodes into C.
func newType[C any, PC interface {
	*C
	Settings
}](build func(name string, c C, deps Deps) (crmsync.Connector, error), opts ...option) Type {
	t := Type{
		settings: reflect.TypeFor[PC](),
		build: func(name string, s Settings, deps Deps) (crmsync.Connector, error) {
			return build(name, *s.(PC), deps)
		},
	}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// newSettings returns an empty settings section of type typ.
func newSettings(typ string) (Settings, bool) {
	t, ok := Types[typ]
	if !ok {
		return nil, false
	}
	return reflect.New(t.settings.Elem()).Interface().(Settings), true
}

// Names lists the known connector types, sorted.
func Names() []string {
	out := make([]string, 0, len(Types))
	for t := range Types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Sections maps every connector type to its settings section's Go type
// (a struct), for code that walks the configuration's keys (the strict
// config loader, the reference check of docs/config.md).
func Sections() map[string]reflect.Type {
	out := make(map[string]reflect.Type, len(Types))
	for name, t := range Types {
		out[name] = t.settings.Elem()
	}
	return out
}
