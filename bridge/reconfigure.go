package bridge

// Reconfigure replaces who is who (Users, ExtensionPattern, Trunks) for
// the channels the engine meets from now on: a channel it already tracks
// keeps the user or trunk it was given, so a call in progress ends as it
// began and is reported once. Source and PBX, which name activity ids,
// are kept: changing them would give a call in progress a second id.
func (e *Engine) Reconfigure(cfg Config) {
	cfg.Source, cfg.PBX = e.cfg.Source, e.cfg.PBX
	n := New(cfg)
	e.cfg, e.pattern = n.cfg, n.pattern
	e.users, e.patUsers, e.mobiles, e.trunks = n.users, n.patUsers, n.mobiles, n.trunks
}
