package app

import (
	"github.com/callbridge/callbridge/config"
	"github.com/callbridge/callbridge/internal/cards"
)

// NewDesk builds the caller cards as New does, on clock, without a CRM.
func NewDesk(cfg *config.Config, clock cards.Clock) (*cards.Engine, error) {
	return newDesk(cfg, nil, clock, nil)
}

// Desk is the running App's caller cards.
func Desk(a *App) *cards.Engine { return a.desk }
