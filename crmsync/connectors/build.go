package connectors

import (
	"errors"
	"fmt"

	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
	"github.com/callbridge/callbridge/crmsync/webhook"
)

// Build builds every configured connector, refusing duplicate names (they
// would share a queue) and broken references between them. Connectors
// with recognition on get their lookup from recs, which the caller fills
// once the indexes are open (an index syncs from its connector, so it
// cannot exist before it); recs may be nil. Logger and Registerer of deps
// are shared.
func Build(cfgs []ConnectorConfig, deps Deps, recs *phoneindex.Set) ([]crmsync.Connector, error) {
	var errs []error
	if err := CheckReferences(cfgs); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	var out []crmsync.Connector
	for i, c := range cfgs {
		key := fmt.Sprintf("crm[%d]", i)
		if err := c.Validate(); err != nil {
			errs = append(errs, prefixErr(key+".", err))
			continue
		}
		name := c.InstanceName()
		if seen[name] {
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", key, name))
			continue
		}
		seen[name] = true
		d := Deps{Logger: deps.Logger, Registerer: deps.Registerer, Recognizers: recs} // each connector names itself in its log lines
		if recs != nil && c.Recognition != nil {
			d.Recognizer = recs.For(name)
		}
		conn, err := Types[c.Type].build(name, c.Settings, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		out = append(out, conn)
	}
	return out, errors.Join(errs...)
}

// CheckReferences checks what one connector's configuration says about
// another: a webhook's recognition_from must name a connector with
// recognition on. Keys are crm[i]....
func CheckReferences(cfgs []ConnectorConfig) error {
	recognizes := map[string]bool{}
	for _, c := range cfgs {
		if c.Recognition != nil {
			recognizes[c.InstanceName()] = true
		}
	}
	var errs []error
	for i, c := range cfgs {
		hook, ok := c.Settings.(*webhook.Config)
		if !ok || c.Type != "webhook" || hook == nil || hook.RecognitionFrom == "" {
			continue
		}
		if from := hook.RecognitionFrom; !recognizes[from] {
			errs = append(errs, fmt.Errorf("crm[%d].webhook.recognition_from: %q is not a connector with recognition on", i, from))
		}
	}
	return errors.Join(errs...)
}
