package pipeline

import (
	"errors"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/phone"
)

// What a reload changes in a running path. Each takes effect between two
// events: the engines and their calls in progress stay, so a call is
// neither lost nor reported twice.

// Reconfigure gives every engine a new directory (users, pattern, trunks)
// for the channels it meets from now on, and a new number normaliser.
func (p *Path) Reconfigure(cfg bridge.Config, norm phone.Normalizer) {
	for _, s := range p.sources {
		s.mu.Lock()
		ec := cfg
		ec.Source = s.name
		s.engine.eng.Reconfigure(ec)
		s.engine.norm = norm
		s.mu.Unlock()
	}
}

// ErrNoSuchSource: ReplaceSource was given a name Build was not.
var ErrNoSuchSource = errors.New("pipeline: no such source")

// ReplaceSource stops the source name and runs src in its place (a
// changed address): the engine keeps its calls, and src's first snapshot
// reconciles them with the PBX.
func (p *Path) ReplaceSource(name string, src Source) error {
	for _, s := range p.sources {
		if s.name != name {
			continue
		}
		p.dmu.Lock()
		s.decode = src
		close(s.replaced)
		s.replaced = make(chan struct{})
		p.dmu.Unlock()
		return nil
	}
	return ErrNoSuchSource
}

// SetCRM replaces the stages beyond the sink: a new policy, connectors or
// delivery settings. The intake switches between two activities (under
// every source's lock); the delivery workers switch once the old ones have
// finished their pushes in flight. Jobs queued meanwhile wait in the
// store. A path built without a CRM cannot be given one: that needs the
// store opened, at start.
func (p *Path) SetCRM(c *CRM) error {
	p.dmu.Lock()
	hasCRM := p.dispatcher != nil
	p.dmu.Unlock()
	if !hasCRM || c == nil {
		return errors.New("pipeline: adding or removing the CRM needs a restart")
	}
	intake, d, err := p.crm(c)
	if err != nil {
		return err
	}
	for _, s := range p.sources {
		s.mu.Lock()
	}
	p.intake = intake
	for _, s := range p.sources {
		s.mu.Unlock()
	}
	p.dmu.Lock()
	p.dispatcher = d
	close(p.swapped)
	p.swapped = make(chan struct{})
	p.dmu.Unlock()
	return nil
}
