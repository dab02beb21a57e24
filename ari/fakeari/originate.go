package fakeari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Originate is a lab recording of one ARI originate (POST /channels) that
// Asterisk accepted: the request, its answer and the events it caused
// (testdata/lab/ari_click_to_dial_*). The fake plays it for every
// originate it accepts, rewritten for that request: the originated
// channel takes the request's id and endpoint, the number and caller id
// are the request's, the times start now.
type Originate struct {
	Name    string
	Request OriginateRequest
	Answer  []byte // the 200 body: the new channel
	Events  Recording
}

// OriginateRequest is what POST /channels asked for.
type OriginateRequest struct {
	Endpoint, Extension, Context, CallerID, ChannelID, App string
	Timeout                                                int
	Variables                                              map[string]string
}

// LoadOriginate reads a lab folder's ari.jsonl and ari-rest.jsonl (its
// accepted POST /channels).
func LoadOriginate(dir string) (*Originate, error) {
	ev, err := LoadRecording(filepath.Join(dir, "ari.jsonl"))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "ari-rest.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("fakeari: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxLine)
	for sc.Scan() {
		var call struct {
			Method, Path, Query, Body string
			RequestBody               string `json:"request_body"`
			Status                    int
		}
		if json.Unmarshal(sc.Bytes(), &call) != nil || call.Method != "POST" || call.Path != "/ari/channels" || call.Status != 200 {
			continue
		}
		q, err := url.ParseQuery(call.Query)
		if err != nil {
			return nil, fmt.Errorf("fakeari: %s: %w", dir, err)
		}
		req, err := originateRequest(q, []byte(call.RequestBody))
		if err != nil {
			return nil, fmt.Errorf("fakeari: %s: %w", dir, err)
		}
		return &Originate{Name: filepath.Base(dir), Request: req, Answer: []byte(call.Body), Events: ev}, nil
	}
	return nil, fmt.Errorf("fakeari: %s: no accepted POST /channels in ari-rest.jsonl", dir)
}

func originateRequest(q url.Values, body []byte) (OriginateRequest, error) {
	r := OriginateRequest{Endpoint: q.Get("endpoint"), Extension: q.Get("extension"), Context: q.Get("context"),
		CallerID: q.Get("callerId"), ChannelID: q.Get("channelId"), App: q.Get("app")}
	if t := q.Get("timeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return r, fmt.Errorf("timeout %q", t)
		}
		r.Timeout = n
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var v struct {
			Variables map[string]string `json:"variables"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return r, fmt.Errorf("body: %w", err)
		}
		r.Variables = v.Variables
	}
	return r, nil
}

// Technologies a stock Asterisk 22 has channel drivers for; an originate
// to another is refused as the lab's SIP/101 was.
var technologies = map[string]bool{"PJSIP": true, "Local": true, "IAX2": true, "DAHDI": true}

// serveOriginate answers POST /channels as the lab's Asterisk did:
// 400 {"message"} for arguments it cannot read, 500 {"error": "Allocation
// failed"} for a channel it cannot make (unknown technology or endpoint,
// a phone not registered: Options.Offline), else 200 with the new
// channel, and then the originate's events.
func (s *Server) serveOriginate(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	req, err := originateRequest(r.URL.Query(), body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, message(err.Error()))
		return
	}
	tech, res, ok := strings.Cut(req.Endpoint, "/")
	switch {
	case !ok || tech == "" || res == "":
		writeJSON(w, http.StatusBadRequest, message("Invalid endpoint specified"))
		return
	case req.Extension == "" && req.App == "":
		writeJSON(w, http.StatusBadRequest, message("Application or extension must be specified"))
		return
	}
	s.mu.Lock()
	_, known := s.st.endpoints[req.Endpoint]
	offline := s.offline[req.Endpoint]
	tmpl := s.opts.OriginateFor[req.Endpoint]
	if tmpl == nil {
		tmpl = s.opts.Originate
	}
	s.originates++
	n := s.originates
	s.mu.Unlock()
	if !technologies[tech] || !known || offline {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Allocation failed"})
		return
	}
	if tmpl == nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "fakeari: no Options.Originate to play"})
		return
	}
	now := time.Now()
	if s.opts.Now != nil {
		now = s.opts.Now()
	}
	rw := newRewriter(tmpl, req, s.opts.CallerIDs[res], n, now)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(rw.line(tmpl.Answer)) //nolint:errcheck // the client went away
	lines := rw.events()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var prev time.Time
		for _, l := range lines {
			if t, ok := timestamp(l); ok {
				if !prev.IsZero() && s.opts.Speed > 0 && t.After(prev) {
					time.Sleep(time.Duration(float64(t.Sub(prev)) / s.opts.Speed))
				}
				prev = t
			}
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			s.play(l)
		}
	}()
}

func readBody(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(http.MaxBytesReader(nil, r.Body, 1<<20))
	return b.Bytes(), err
}

// serveEndpoint answers GET /endpoints/{tech}/{resource}: an endpoint the
// fake knows is online unless listed in Options.Offline.
func (s *Server) serveEndpoint(w http.ResponseWriter, key string) {
	e, ok := s.st.endpoints[key]
	if !ok {
		writeJSON(w, http.StatusNotFound, message("Endpoint not found"))
		return
	}
	out := *e
	if s.offline[key] {
		out.State = "offline"
	}
	out.ChannelIDs = []string{}
	for _, ep := range s.st.endpointList() {
		if ep.Technology+"/"+ep.Resource == key {
			out.ChannelIDs = ep.ChannelIDs
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// rewriter turns a template's messages into a request's.
type rewriter struct {
	tmpl            *Originate
	req             OriginateRequest
	origID, newID   string
	tmplRes, newRes string
	suffix          string // for the ids of the other channels and bridges
	n               int
	shift           time.Duration
	// the caller ids: the template's and the request's, and the name the
	// requested endpoint is configured with
	tName, tNum, rName, rNum, epName, tEpName string
	strs                                      *strings.Replacer
}

func newRewriter(t *Originate, req OriginateRequest, epCallerID string, n int, now time.Time) *rewriter {
	rw := &rewriter{tmpl: t, req: req, n: n}
	var a struct {
		ID string `json:"id"`
	}
	json.Unmarshal(t.Answer, &a) //nolint:errcheck // an empty id maps nothing
	rw.origID, rw.newID = a.ID, req.ChannelID
	if rw.newID == "" {
		// Asterisk's own: the epoch and its channel counter, which for
		// the first originate is the template's.
		_, seq, _ := strings.Cut(a.ID, ".")
		k, _ := strconv.Atoi(seq)
		rw.newID = fmt.Sprintf("%d.%d", now.Unix(), k+n-1)
	}
	if n > 1 {
		rw.suffix = "-" + strconv.Itoa(n)
	}
	_, rw.tmplRes, _ = strings.Cut(t.Request.Endpoint, "/")
	_, rw.newRes, _ = strings.Cut(req.Endpoint, "/")
	rw.tName, rw.tNum = splitCallerID(t.Request.CallerID)
	rw.rName, rw.rNum = splitCallerID(req.CallerID)
	rw.epName, _ = splitCallerID(epCallerID)
	if first, _, ok := span(t.Events.Lines); ok {
		rw.shift = now.Sub(first)
	}
	pairs := []string{t.Request.Endpoint, req.Endpoint}
	if t.Request.Extension != "" {
		pairs = append(pairs, t.Request.Extension, req.Extension)
	}
	rw.strs = strings.NewReplacer(pairs...)
	return rw
}

// splitCallerID reads `"Name" <number>`.
func splitCallerID(s string) (name, number string) {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		name, number = s[:i], strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ">")
	} else {
		name = s
	}
	name = strings.TrimSpace(name)
	if uq, err := strconv.Unquote(name); err == nil {
		name = uq
	}
	return name, number
}

// events are the template's messages for this request: a variable the
// request sets gets its ChannelVarset where the lab's came (after the
// connected line is set, before the first Dial), one it does not set
// loses it.
func (rw *rewriter) events() [][]byte {
	var out [][]byte
	setVars := false
	for _, l := range rw.tmpl.Events.Lines {
		var ev struct {
			Type     string `json:"type"`
			Variable string `json:"variable"`
			Channel  struct {
				ID string `json:"id"`
			} `json:"channel"`
		}
		json.Unmarshal(l, &ev) //nolint:errcheck // not JSON: played as it is
		if ev.Type == "ChannelVarset" && ev.Channel.ID == rw.origID && rw.tmpl.Request.Variables[ev.Variable] != "" {
			if _, ok := rw.req.Variables[ev.Variable]; !ok {
				continue
			}
			setVars = true
		}
		if ev.Type == "Dial" && !setVars {
			setVars = true
			for k, v := range rw.req.Variables {
				if _, inTmpl := rw.tmpl.Request.Variables[k]; !inTmpl {
					out = append(out, rw.varset(out, k, v))
				}
			}
		}
		out = append(out, rw.line(l))
	}
	return out
}

// varset is a ChannelVarset of the originated channel, in its state of
// the last message before it.
func (rw *rewriter) varset(before [][]byte, name, value string) []byte {
	var last map[string]any
	for i := len(before) - 1; i >= 0 && last == nil; i-- {
		var ev map[string]any
		if json.Unmarshal(before[i], &ev) == nil {
			if ch, ok := ev["channel"].(map[string]any); ok && ch["id"] == rw.newID {
				last = ev
			}
		}
	}
	ev := map[string]any{"type": "ChannelVarset", "variable": name, "value": value}
	if last != nil {
		ev["timestamp"], ev["channel"], ev["asterisk_id"], ev["application"] = last["timestamp"], last["channel"], last["asterisk_id"], last["application"]
	}
	b, _ := json.Marshal(ev)
	return b
}

// line rewrites one message.
func (rw *rewriter) line(l []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(l))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return l
	}
	b, err := json.Marshal(rw.value(v, "", false))
	if err != nil {
		return l
	}
	return b
}

func (rw *rewriter) value(v any, key string, orig bool) any {
	switch x := v.(type) {
	case map[string]any:
		if id, _ := x["id"].(string); id != "" && x["name"] != nil && x["state"] != nil {
			orig = id == rw.origID // a channel: the originated one or another
		}
		for k, e := range x {
			if (k == "caller" || k == "connected") && orig {
				x[k] = rw.party(e)
				continue
			}
			x[k] = rw.value(e, k, orig)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = rw.value(e, key, orig)
		}
		return x
	case string:
		return rw.str(x, key, orig)
	}
	return v
}

// party rewrites the originated channel's caller or connected line: the
// template's caller id becomes the request's, the template endpoint's own
// name the requested endpoint's.
func (rw *rewriter) party(v any) any {
	p, ok := v.(map[string]any)
	if !ok {
		return v
	}
	name, _ := p["name"].(string)
	num, _ := p["number"].(string)
	switch {
	case name == rw.tName && rw.tName != "":
		p["name"] = rw.rName
	case num == rw.tmplRes && name != "" && rw.newRes != rw.tmplRes:
		p["name"] = rw.epName
	}
	switch num {
	case rw.tNum:
		if rw.tNum != "" {
			p["number"] = rw.rNum
		}
	case rw.tmplRes:
		p["number"] = rw.newRes
	default:
		p["number"] = rw.strs.Replace(num)
	}
	return p
}

func (rw *rewriter) str(s, key string, orig bool) string {
	switch {
	case key == "timestamp" || key == "creationtime":
		if t, err := time.Parse(ariTime, s); err == nil && rw.shift != 0 {
			return t.Add(rw.shift).Format(ariTime)
		}
		return s
	case s == "":
		return s
	case key == "id" || key == "destination_bridge" || idListKeys[key]:
		if s == rw.origID {
			return rw.newID
		}
		return s + rw.suffix
	case key == "value" && s == rw.origID:
		return rw.newID
	case key == "name" && strings.HasPrefix(s, rw.tmpl.Request.Endpoint+"-"):
		return rw.req.Endpoint + rw.chanSuffix(s[len(rw.tmpl.Request.Endpoint):])
	case key == "name" && strings.Count(s, "/") == 1 && strings.Contains(s, "-"):
		i := strings.LastIndexByte(s, '-')
		return s[:i] + rw.chanSuffix(s[i:])
	case s == rw.tmplRes:
		return rw.newRes
	case s == rw.tmpl.Request.Context && rw.req.Context != "":
		return rw.req.Context
	case s == rw.tName && rw.tName != "":
		return rw.rName
	}
	return rw.strs.Replace(s)
}

// chanSuffix keeps a channel name's "-0000000a" for the first originate
// and makes it unique for the next.
func (rw *rewriter) chanSuffix(s string) string {
	if rw.n <= 1 {
		return s
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "-"), 16, 32)
	if err != nil {
		return s + rw.suffix
	}
	return fmt.Sprintf("-%08x", n+uint64(rw.n)<<16)
}
