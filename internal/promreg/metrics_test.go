package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestShare(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "callbridge_test_total", Help: "h"}
	a := prometheus.NewCounter(opts)
	if err := Share(reg, &a); err != nil {
		t.Fatal(err)
	}
	b := prometheus.NewCounter(opts)
	if err := Share(reg, &b); err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("the second counter was not replaced by the registered one")
	}
	b.Inc()
	if got := testValue(t, reg); got != 1 {
		t.Fatalf("registered counter at %v", got)
	}
	// A different kind of collector under the same name is an error.
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "callbridge_test_total", Help: "h"})
	if err := Share(reg, &g); err == nil {
		t.Fatal("want an error")
	}
	if err := Share[prometheus.Counter](nil, &a); err != nil {
		t.Fatal(err)
	}
}

func testValue(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("%v %d", err, len(mfs))
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}
