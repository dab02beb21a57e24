package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request body limits: what a dialplan or an agent page sends is small; a
// bound keeps a runaway client from filling memory.
const (
	maxRouteBody       = 4 << 10
	maxDispositionBody = 16 << 10 // notes of up to 2000 characters, with room
	maxCallbackBody    = 8 << 10
)

// errBody is a request body that cannot be read.
var errBody = errors.New("body")

// fields reads a request's body, at most limit bytes, as JSON (an object
// of strings and numbers) or as a form (what Asterisk's CURL() sends with
// post data), and returns its fields by name.
func fields(w http.ResponseWriter, r *http.Request, limit int64) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("%w: %v", errBody, tooLarge(err))
		}
		for k, v := range r.PostForm {
			if len(v) > 0 {
				out[k] = v[0]
			}
		}
		return out, nil
	case "application/json", "":
		var m map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%w: want a JSON object: %v", errBody, tooLarge(err))
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				out[k] = x
			case json.Number:
				out[k] = x.String()
			case nil:
			default:
				return nil, fmt.Errorf("%w: %s: want a string", errBody, k)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: Content-Type %q: send JSON or a form", errBody, mt)
}

func tooLarge(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Errorf("larger than %d bytes", mb.Limit)
	}
	return err
}

// number reads a number from a query: a '+' not encoded as %2B arrives as
// a space, which no phone number starts with.
func number(s string) string {
	if len(s) > 1 && s[0] == ' ' && s[1] >= '0' && s[1] <= '9' {
		return "+" + strings.TrimSpace(s[1:])
	}
	return strings.TrimSpace(s)
}

// parseTime reads a time as Unix seconds (the dialplan's ${EPOCH}) or
// RFC 3339; "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<35 {
			return time.Time{}, fmt.Errorf("%d is not a Unix time", n)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 or Unix seconds", s)
	}
	return t, nil
}
