package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Share registers each collector on reg. One that is already registered
// there is shared instead: *c becomes the registered collector. A nil reg
// registers nothing.
func Share[C prometheus.Collector](reg prometheus.Registerer, cs ...*C) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		err := reg.Register(*c)
		if err == nil {
			continue
		}
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
		existing, ok := are.ExistingCollector.(C)
		if !ok {
			return err
		}
		*c = existing
	}
	return nil
}
