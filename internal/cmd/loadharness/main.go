package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/callbridge/callbridge/ari/fakeari"
	"github.com/callbridge/callbridge/crmsync/dynamics/fakedataverse"
	"github.com/callbridge/callbridge/crmsync/phoneindex"
)

func main() {
	rate := flag.Int("rate", 10000, "requests per second to each endpoint while it has its turn")
	duration := flag.Duration("duration", 30*time.Second, "time each endpoint is loaded, in all")
	slice := flag.Duration("slice", time.Second, "length of one endpoint's turn; 0: no turns, the requests go to the endpoints in rotation")
	numbers := flag.Int("numbers", 1_000_000, "numbers in the phone index")
	workers := flag.Int("workers", 512, "requests in flight at most (open loop: a request waits for a worker, measured from its schedule)")
	bin := flag.String("bin", "", "callbridge binary (default: go build ./cmd/callbridge)")
	flag.Parse()
	if err := run(*rate, *duration, *slice, *numbers, *workers, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "loadharness:", err)
		os.Exit(1)
	}
}

// owners of the indexed records: users 101.. map to them by e-mail.
const owners = 50

func ownerID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", 1000+i%owners) }

// number i of the index: Finnish mobile numbers, E.164.
func number(i int) string { return fmt.Sprintf("+35840%07d", i) }

// national is an E.164 number of the index as a Finnish phone dials it
// (+35840… → 040…), which the daemon normalises on the way.
func national(e164 string) string { return "0" + strings.TrimPrefix(e164, "+358") }

func run(rate int, duration, slice time.Duration, n, workers int, bin string) error {
	dir, err := os.MkdirTemp("", "loadharness-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "callbridge")
		fmt.Fprintln(os.Stderr, "building callbridge…")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/callbridge/callbridge/cmd/callbridge").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}

	// The fake Dataverse only maps users; the records are in the index.
	dvSrv := httptest.NewUnstartedServer(nil)
	dvSrv.Start()
	defer dvSrv.Close()
	dv := fakedataverse.New(fakedataverse.Options{ClientID: "app", ClientSecret: "secret", Scope: dvSrv.URL + "/.default", MaxConcurrent: 1000})
	dvSrv.Config.Handler = dv
	var users strings.Builder
	for i := range owners {
		dv.AddUser(fakedataverse.SystemUser{ID: ownerID(i), Email: fmt.Sprintf("u%d@example.com", 101+i)})
		fmt.Fprintf(&users, "  - {extension: \"%d\", email: u%d@example.com}\n", 101+i, 101+i)
	}
	ari, err := fakeari.New(fakeari.Options{})
	if err != nil {
		return err
	}
	defer ari.Close()

	state := filepath.Join(dir, "state")
	fmt.Fprintf(os.Stderr, "indexing %d numbers…\n", n)
	if err := seedIndex(filepath.Join(state, "phoneindex"), n); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`log_level: warn
state_dir: %s
ari: {url: %s, username: asterisk, password: asterisk}
default_region: FI
users:
%shttp: {listen: %q}
routing:
  rules:
    - {name: owner, match: owner, when_free: true}
    - {name: nordic, match: prefix, prefixes: ["+46"], target: "101"}
crm:
  - type: dynamics
    dynamics: {url: %s, token_url: %s/t/oauth2/v2.0/token, client_id: app, client_secret: secret}
    recognition:
      enabled: true
      region: FI
      interval: 24h
      entities:
        - {name: contact, entity_set: contacts, key: contactid, name_field: fullname, phone_fields: [mobilephone], owner_field: _ownerid_value, type: person}
`, state, ari.URL(), users.String(), addr, dvSrv.URL, dvSrv.URL)
	cfgPath := filepath.Join(dir, "callbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	daemon := exec.Command(bin, "run", "--config", cfgPath)
	daemon.Stderr = os.Stderr
	daemon.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := daemon.Start(); err != nil {
		return err
	}
	defer func() { _ = daemon.Process.Signal(syscall.SIGTERM); _ = daemon.Wait() }()
	base := "http://" + addr
	fmt.Fprintln(os.Stderr, "waiting for the daemon to load the index and map its users…")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}, Timeout: 10 * time.Second}
	want := "101"
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if body, _ := fetch(client, base+"/api/route?anum="+url.QueryEscape(number(0))+"&bnum=1"); body == want {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon did not route %s to %s within 5 minutes", number(0), want)
		}
	}

	targets := []endpoint{
		{name: "/healthz", url: func(*rand.Rand) string { return base + "/healthz" }},
		{name: "/api/route", url: func(r *rand.Rand) string {
			return base + "/api/route?anum=" + url.QueryEscape(number(r.IntN(n))) + "&bnum=%2B35850111222"
		}},
		{name: "/api/lookup", url: func(r *rand.Rand) string { return base + "/api/lookup?number=" + url.QueryEscape(number(r.IntN(n))) }},
		{name: "/api/lookup, national form", url: func(r *rand.Rand) string { return base + "/api/lookup?number=" + national(number(r.IntN(n))) }},
		{name: "/api/callername", url: func(r *rand.Rand) string {
			return base + "/api/callername?number=" + url.QueryEscape(number(r.IntN(n)))
		}},
		{name: "/api/callername, national form", url: func(r *rand.Rand) string {
			return base + "/api/callername?number=" + national(number(r.IntN(n)))
		}},
	}
	// Warm the connections and the daemon up.
	cpu := func() time.Duration { return cpuTime(daemon.Process.Pid) }
	load(client, targets, rate, 2*time.Second, slice, workers, cpu)
	if slice > 0 {
		fmt.Fprintf(os.Stderr, "loading: %d/s per endpoint, %s each, turns of %s…\n", rate, duration, slice)
	} else {
		fmt.Fprintf(os.Stderr, "loading: %d/s in all, the endpoints in rotation, %s…\n", rate, time.Duration(len(targets))*duration)
	}
	res := load(client, targets, rate, duration, slice, workers, cpu)
	report(os.Stdout, res, rate, duration, slice, n)
	return nil
}

// seedIndex writes the index the daemon's Dynamics connector ("dynamics")
// will load: n contacts with one number each, owned round robin by the
// owners, as a full sync would have left them.
func seedIndex(dir string, n int) error {
	src := &records{n: n}
	settings := phoneindex.Settings{Region: "FI", Interval: 24 * time.Hour, Enabled: true, Entities: []phoneindex.Entity{{
		Name: "contact", EntitySet: "contacts", Key: "contactid", NameField: "fullname",
		PhoneFields: []string{"mobilephone"}, OwnerField: "_ownerid_value", Kind: phoneindex.Person}}}
	ctx := context.Background()
	in, err := phoneindex.Open(ctx, "dynamics", src, phoneindex.FileStore{Dir: dir}, settings, phoneindex.IntegrationOptions{Logger: zerolog.Nop()})
	if err != nil {
		return err
	}
	return in.Sync(ctx, true)
}

// records is a CRM of n contacts, for the seed.
type records struct{ n int }

func (s *records) Records(ctx context.Context, e phoneindex.Entity, since time.Time, fn func([]phoneindex.Record) error) error {
	mod := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	page := make([]phoneindex.Record, 0, 5000)
	for i := range s.n {
		page = append(page, phoneindex.Record{Entity: e.Name, ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", i),
			Name: fmt.Sprintf("Contact %d", i), Phones: []string{number(i)}, Owner: ownerID(i), Modified: mod})
		if len(page) == cap(page) || i == s.n-1 {
			if err := fn(page); err != nil {
				return err
			}
			page = page[:0]
		}
	}
	return nil
}

type endpoint struct {
	name string
	url  func(*rand.Rand) string
}

// result is one endpoint's latencies, from scheduled send to answer.
type result struct {
	name      string
	lat       []time.Duration
	errors    int
	maxBehind time.Duration // how late the scheduler handed a request to a worker
	cpu       time.Duration // the daemon's CPU time during this endpoint's turns
	sent      int
}

type shot struct {
	at  time.Time
	ep  int
	url string
}

// load sends to each endpoint in turn, slice by slice, at rate requests
// per second, until each has had duration.
func load(client *http.Client, eps []endpoint, rate int, duration, slice time.Duration, workers int, cpu func() time.Duration) []result {
	res := make([]result, len(eps))
	for i, e := range eps {
		res[i].name = e.name
	}
	shots := make(chan shot, rate) // a second of backlog at most before the scheduler itself waits
	type done struct {
		ep  int
		lat time.Duration
		err bool
	}
	dones := make(chan done, 4096)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range shots {
				_, err := fetch(client, s.url)
				dones <- done{ep: s.ep, lat: time.Since(s.at), err: err != nil}
			}
		}()
	}
	collected := make(chan struct{})
	go func() {
		for d := range dones {
			if d.err {
				res[d.ep].errors++
			}
			res[d.ep].lat = append(res[d.ep].lat, d.lat)
		}
		close(collected)
	}()
	rnd := rand.New(rand.NewPCG(1, 2))
	interval := time.Second / time.Duration(rate)
	per := int(slice / interval)
	total := int(duration / interval)
	// Interleaved (slice 0): one request each in rotation, so that every
	// endpoint meets the same moments of the machine. The daemon's CPU is
	// then read around the whole run only: reading it around each request
	// would cost more than the request.
	interleaved := per < 1
	per = max(per, 1)
	runStart := cpu()
	start := time.Now()
	k := 0
	for sent := 0; sent < total; sent += per {
		for e := range eps {
			var before time.Duration
			if !interleaved {
				before = cpu()
			}
			for i := 0; i < per && sent+i < total; i++ {
				res[e].sent++
				at := start.Add(time.Duration(k) * interval)
				k++
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				if behind := time.Since(at); behind > res[e].maxBehind {
					res[e].maxBehind = behind
				}
				shots <- shot{at: at, ep: e, url: eps[e].url(rnd)}
			}
			if !interleaved {
				res[e].cpu += cpu() - before
			}
		}
	}
	if interleaved {
		all := cpu() - runStart
		for i := range res {
			res[i].cpu = all / time.Duration(len(res)) // each endpoint's share of the run, the same for all
		}
	}
	close(shots)
	wg.Wait() // the last answers are in
	close(dones)
	<-collected
	return res
}

func fetch(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 && resp.StatusCode != 204 {
		return string(b), fmt.Errorf("%d", resp.StatusCode)
	}
	return string(b), err
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[max(0, min(i, len(l)-1))]
}

func report(w io.Writer, res []result, rate int, duration, slice time.Duration, n int) {
	for i := range res {
		slices.Sort(res[i].lat)
	}
	h := res[0]
	fmt.Fprintf(w, "\n%s, %d cores (GOMAXPROCS %d), %s, load average %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), loadAvg())
	if slice > 0 {
		fmt.Fprintf(w, "%d numbers indexed; each endpoint %d requests/s for %s in turns of %s, open loop, latency from the scheduled send\n\n", n, rate, duration, slice)
	} else {
		fmt.Fprintf(w, "%d numbers indexed; %d requests/s in all for %s, the endpoints in rotation (each %d/s), open loop, latency from the scheduled send; the daemon's CPU per request is the run's, for all endpoints alike\n\n",
			n, rate, time.Duration(len(res))*duration, rate/len(res))
	}
	fmt.Fprintln(w, "| endpoint | requests | errors | p50 | p99 | p99.9 | p50 / healthz | p99 / healthz | p99.9 / healthz | daemon CPU per request |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range res {
		ratio := func(p float64) string {
			if pct(h.lat, p) == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f×", float64(pct(r.lat, p))/float64(pct(h.lat, p)))
		}
		per := time.Duration(0)
		if r.sent > 0 {
			per = r.cpu / time.Duration(r.sent)
		}
		fmt.Fprintf(w, "| `%s` | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.name, len(r.lat), r.errors,
			round(pct(r.lat, 50)), round(pct(r.lat, 99)), round(pct(r.lat, 99.9)), ratio(50), ratio(99), ratio(99.9), round(per))
	}
	if slice == 0 { // one schedule for all: say it once
		for i := range res[1:] {
			res[0].maxBehind = max(res[0].maxBehind, res[i+1].maxBehind)
		}
		res, res[0].name = res[:1], "any endpoint"
	}
	for _, r := range res {
		if r.maxBehind > 10*time.Millisecond {
			fmt.Fprintf(w, "\nnote: the scheduler fell %s behind on %s (the harness itself was short of CPU)\n", round(r.maxBehind), r.name)
		}
	}
}

func round(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuTime is process pid's user and system CPU time so far (Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command may hold spaces; the fields after it are fixed.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
