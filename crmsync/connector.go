package crmsync

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync/dynamics"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// Connector writes activities to one CRM.
type Connector interface {
	Name() string
	// Push writes a. It is idempotent on a.ID: pushing the same activity
	// twice leaves one activity in the CRM. Errors are classified with
	// package crmerr; unclassified errors are retried.
	Push(ctx context.Context, a bridge.Activity) error
}

// Refresher is implemented by connectors holding a credential that can be
// renewed (an OAuth token, a secret file). After a push fails with
// crmerr.ErrUnauthorized the worker calls Refresh once and pushes again.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// ConnectorConfig configures one connector instance. Type selects the
// entry of Connectors and the matching section below.
type ConnectorConfig struct {
	// Name identifies the instance in queues, logs and metrics. Default:
	// Type. Two instances of one type need distinct names.
	Name     string           `yaml:"name"`
	Type     string           `yaml:"type"`
	Webhook  *webhook.Config  `yaml:"webhook,omitempty"`
	Dynamics *dynamics.Config `yaml:"dynamics,omitempty"`
	// Recognition turns on caller recognition from this CRM (connectors
	// that can list their records: dynamics): a phone index synced on a
	// schedule, used for the activity's "regarding" and the lookup API.
	Recognition *phoneindex.Settings `yaml:"recognition,omitempty"`
}

// Deps are what a connector gets from the daemon.
type Deps struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Recognizers hands connectors their caller lookup (nil: none).
	Recognizers *Recognizers
}

// Factory builds a connector from its configuration.
type Factory func(cfg ConnectorConfig, deps Deps) (Connector, error)

// Connectors maps connector types to their factories. It is the one place
// a new connector is added.
var Connectors = map[string]Factory{
	"webhook": func(cfg ConnectorConfig, deps Deps) (Connector, error) {
		if cfg.Webhook == nil {
			return nil, errors.New("webhook: section missing")
		}
		return webhook.New(cfg.instanceName(), *cfg.Webhook, webhook.Options{Logger: deps.Logger, Registerer: deps.Registerer})
	},
	"dynamics": func(cfg ConnectorConfig, deps Deps) (Connector, error) {
		if cfg.Dynamics == nil {
			return nil, errors.New("dynamics: section missing")
		}
		opts := dynamics.Options{Logger: deps.Logger, Registerer: deps.Registerer}
		if deps.Recognizers != nil && cfg.Recognition != nil {
			opts.Recognizer = deps.Recognizers.For(cfg.instanceName())
		}
		return dynamics.New(cfg.instanceName(), *cfg.Dynamics, opts)
	},
}

// Recognition reports whether the connector's type can feed a phone index.
func (c ConnectorConfig) recognizes() bool { return c.Type == "dynamics" }

func (c ConnectorConfig) instanceName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Type
}

// Validate checks one connector's configuration, naming keys relative to it.
func (c ConnectorConfig) Validate() error {
	var errs []error
	if _, ok := Connectors[c.Type]; !ok {
		types := make([]string, 0, len(Connectors))
		for t := range Connectors {
			types = append(types, t)
		}
		sort.Strings(types)
		errs = append(errs, fmt.Errorf("type: %q unknown (known: %v)", c.Type, types))
	}
	switch c.Type {
	case "webhook":
		if c.Webhook == nil {
			errs = append(errs, errors.New("webhook: required for type webhook"))
		} else if err := c.Webhook.Validate(); err != nil {
			errs = append(errs, prefixErr("webhook.", err))
		}
	case "dynamics":
		if c.Dynamics == nil {
			errs = append(errs, errors.New("dynamics: required for type dynamics"))
		} else if err := c.Dynamics.Validate(); err != nil {
			errs = append(errs, prefixErr("dynamics.", err))
		}
	}
	if c.Webhook != nil && c.Type != "webhook" {
		errs = append(errs, fmt.Errorf("webhook: set, but type is %q", c.Type))
	}
	if c.Dynamics != nil && c.Type != "dynamics" {
		errs = append(errs, fmt.Errorf("dynamics: set, but type is %q", c.Type))
	}
	if c.Recognition != nil {
		if !c.recognizes() {
			errs = append(errs, fmt.Errorf("recognition: type %q cannot list CRM records", c.Type))
		} else if err := c.Recognition.Validate(); err != nil {
			errs = append(errs, prefixErr("recognition.", err))
		}
	}
	return errors.Join(errs...)
}

// BuildConnectors builds every configured connector, refusing duplicate
// names (they would share a queue).
func BuildConnectors(cfgs []ConnectorConfig, deps Deps) ([]Connector, error) {
	var errs []error
	seen := map[string]bool{}
	var out []Connector
	for i, c := range cfgs {
		key := fmt.Sprintf("crm[%d]", i)
		if err := c.Validate(); err != nil {
			errs = append(errs, prefixErr(key+".", err))
			continue
		}
		name := c.instanceName()
		if seen[name] {
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", key, name))
			continue
		}
		seen[name] = true
		conn, err := Connectors[c.Type](c, Deps{Logger: deps.Logger.With().Str("connector", name).Logger(), Registerer: deps.Registerer, Recognizers: deps.Recognizers})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		out = append(out, conn)
	}
	return out, errors.Join(errs...)
}

// prefixErr puts prefix before every line of a joined error.
func prefixErr(prefix string, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			errs = append(errs, fmt.Errorf("%s%w", prefix, e))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("%s%w", prefix, err)
}
