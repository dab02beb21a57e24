package app

import (
	"errors"
	"slices"
	"testing"
)

func TestCleanupsCloseNewestFirst(t *testing.T) {
	var c cleanups
	var order []int
	boom := errors.New("boom")
	for i := range 3 {
		c.push(func() error {
			order = append(order, i)
			if i == 1 {
				return boom
			}
			return nil
		})
	}
	if err := c.close(); !errors.Is(err, boom) {
		t.Errorf("close: %v, want the failing cleanup's error", err)
	}
	if !slices.Equal(order, []int{2, 1, 0}) {
		t.Errorf("closed in order %v, want newest first", order)
	}
	if err := c.close(); err != nil || len(order) != 3 {
		t.Errorf("a second close ran cleanups again: %v %v", order, err)
	}
}
