package ari

import (
	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
	"github.com/inconshreveable/log15"
	"github.com/rs/zerolog"
)

// LogLibraryTo routes ari/v5's own log15 loggers (the ari and client/native
// packages' Logger) into log, which they otherwise discard. They are
// package globals, so only main calls this, once. The live source does not
// log through them; anything else using ari/v5's client does.
func LogLibraryTo(log zerolog.Logger) {
	h := log15.FuncHandler(func(r *log15.Record) error {
		var e *zerolog.Event
		switch r.Lvl {
		case log15.LvlCrit, log15.LvlError:
			e = log.Error()
		case log15.LvlWarn:
			e = log.Warn()
		case log15.LvlInfo:
			e = log.Info()
		default:
			e = log.Debug()
		}
		for i := 0; i+1 < len(r.Ctx); i += 2 {
			k, ok := r.Ctx[i].(string)
			if !ok {
				continue
			}
			if err, ok := r.Ctx[i+1].(error); ok {
				e = e.AnErr(k, err)
			} else {
				e = e.Interface(k, r.Ctx[i+1])
			}
		}
		e.Msg(r.Msg)
		return nil
	})
	ari.Logger.SetHandler(h)
	native.Logger.SetHandler(h)
}
