package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/crmsync"
	"github.com/callbridge/callbridge/crmsync/store/internal/jobcodec"
)

// Options tune the store. Zero values take the defaults.
type Options struct {
	// Prefix starts every key, so several deployments can share a Redis.
	// Default "callbridge".
	Prefix string
	// MarkerRetention is how long enqueued and delivered markers refuse a
	// repeated activity. Default 30 days.
	MarkerRetention time.Duration
	// StartRetention is how far before a new start the accepted starts of
	// the same user and number are kept for the start-margin rule, on the
	// activities' own times (never the wall clock, so a replay of old
	// events decides as the live run did). Default 7 days.
	StartRetention time.Duration
	// Now replaces the clock for retry times (tests). Leases are timed by
	// Redis itself.
	Now func() time.Time
	// WaitReplicas makes Enqueue and EnqueueJob return only once this
	// many replicas have the job (Redis WAIT), so that a failover cannot
	// lose an activity intake already counted as kept, nor a wrap-up or a
	// callback request the API accepted; see wait.go. 0: no waiting.
	WaitReplicas int
	// WaitTimeout bounds one WAIT. Default 2s.
	WaitTimeout time.Duration
}

const group = "callbridge"

// Store is the Redis crmsync.Store.
type Store struct {
	rdb    goredis.UniversalClient
	opts   Options
	owned  bool
	groups sync.Map // connector -> struct{}: group created
	known  sync.Map // connector -> struct{}: listed in the connectors set
}

var _ crmsync.Store = (*Store)(nil)

// ParseURL builds a client from a URL:
//
//	redis://[user:pass@]host:port/db          one server (rediss:// for TLS)
//	redis+sentinel://[user:pass@]host:port?master_name=m&addr=host2:port
//	redis+cluster://[user:pass@]host:port?addr=host2:port
//
// Errors never repeat the URL, which may hold a password.
func ParseURL(raw string) (goredis.UniversalClient, error) {
	o, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case o.failover != nil:
		return goredis.NewFailoverClient(o.failover), nil
	case o.cluster != nil:
		return goredis.NewClusterClient(o.cluster), nil
	}
	return goredis.NewClient(o.single), nil
}

// CheckURL reports what ParseURL would refuse, and ports out of range,
// without making a client: `config check` and `run` both ask it.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

// options are one of go-redis's three kinds of client options.
type options struct {
	single   *goredis.Options
	failover *goredis.FailoverOptions
	cluster  *goredis.ClusterOptions
}

func parseURL(raw string) (options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return options{}, errors.New("redis url: cannot parse")
	}
	scheme, mode, _ := strings.Cut(u.Scheme, "+")
	if scheme != "redis" && scheme != "rediss" && scheme != "unix" {
		return options{}, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+sentinel or redis+cluster", u.Scheme)
	}
	u.Scheme = scheme
	plain := u.String()
	var o options
	var addrs []string
	switch mode {
	case "":
		if o.single, err = goredis.ParseURL(plain); err == nil && scheme != "unix" {
			addrs = []string{o.single.Addr}
		}
	case "sentinel":
		if o.failover, err = goredis.ParseFailoverURL(plain); err == nil {
			if o.failover.MasterName == "" {
				return options{}, errors.New("redis url: master_name is required for sentinel (?master_name=mymaster)")
			}
			addrs = o.failover.SentinelAddrs
		}
	case "cluster":
		if o.cluster, err = goredis.ParseClusterURL(plain); err == nil {
			addrs = o.cluster.Addrs
		}
	default:
		return options{}, fmt.Errorf("redis url: unknown mode %q: want redis+sentinel or redis+cluster", mode)
	}
	if err != nil {
		return options{}, fmt.Errorf("redis url: %s", strings.TrimPrefix(redact(err, u), "redis: "))
	}
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return options{}, fmt.Errorf("redis url: address %q: want host:port", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return options{}, fmt.Errorf("redis url: port %q is not a port (1–65535)", port)
		}
	}
	return o, nil
}

func redact(err error, u *url.URL) string {
	s := err.Error()
	if p, ok := u.User.Password(); ok && p != "" {
		s = strings.ReplaceAll(s, p, "<secret>")
	}
	return s
}

// Open connects to the Redis at url and checks it answers.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	rdb, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := New(rdb, opts)
	s.owned = true
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return s, nil
}

// New uses rdb; Close leaves rdb open.
func New(rdb goredis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "callbridge"
	}
	if opts.MarkerRetention <= 0 {
		opts.MarkerRetention = 30 * 24 * time.Hour
	}
	if opts.StartRetention <= 0 {
		opts.StartRetention = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 2 * time.Second
	}
	return &Store{rdb: rdb, opts: opts}
}

// Close closes the client if Open made it.
func (s *Store) Close() error {
	if s.owned {
		return s.rdb.Close()
	}
	return nil
}

// keys of one connector, all in one hash slot.
type keys struct{ tag string }

func (s *Store) k(connector string) keys { return keys{"{" + s.opts.Prefix + ":c:" + connector + "}"} }
func (k keys) stream() string            { return k.tag + ":q" }
func (k keys) delayed() string           { return k.tag + ":delayed" }
func (k keys) dead() string              { return k.tag + ":dead" }
func (k keys) delivered() string         { return k.tag + ":delivered" }
func (k keys) leases() string            { return k.tag + ":leases" }
func (k keys) enq(id string) string      { return k.tag + ":enq:" + id }
func (k keys) done(id string) string     { return k.tag + ":done:" + id }
func (s *Store) connectorsKey() string   { return s.opts.Prefix + ":connectors" }
func (s *Store) startsKey(user, remote string) string {
	return "{" + s.opts.Prefix + ":s:" + strconv.Quote(user) + ":" + strconv.Quote(remote) + "}"
}

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// register lists connector once per process and creates its group.
func (s *Store) register(ctx context.Context, connector string) error {
	if connector == "" {
		return errors.New("connector name is empty")
	}
	if _, ok := s.known.Load(connector); !ok {
		if err := s.rdb.SAdd(ctx, s.connectorsKey(), connector).Err(); err != nil {
			return err
		}
		s.known.Store(connector, struct{}{})
	}
	if _, ok := s.groups.Load(connector); !ok {
		err := s.rdb.XGroupCreateMkStream(ctx, s.k(connector).stream(), group, "0").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return err
		}
		s.groups.Store(connector, struct{}{})
	}
	return nil
}

// forget drops the cached registration, after Redis lost data.
func (s *Store) forget(connector string, err error) {
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		s.groups.Delete(connector)
		s.known.Delete(connector)
	}
}

// Enqueue implements crmsync.Store.
func (s *Store) Enqueue(ctx context.Context, connector string, a bridge.Activity) (bool, error) {
	if a.ID == "" {
		return false, errors.New("enqueue: activity without id")
	}
	return s.EnqueueJob(ctx, connector, crmsync.Job{Activity: a}, time.Time{})
}

// Claim implements crmsync.Store.
func (s *Store) Claim(ctx context.Context, req crmsync.ClaimRequest) ([]crmsync.Job, error) {
	if req.Max <= 0 || req.Lease <= 0 || req.Worker == "" {
		return nil, errors.New("claim: Max, Lease and Worker are required")
	}
	if err := s.register(ctx, req.Connector); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	k := s.k(req.Connector)
	res, err := claimScript.Run(ctx, s.rdb, []string{k.stream(), k.delayed(), k.leases()},
		group, req.Worker, s.opts.Now().UnixMilli(), ms(req.Lease), req.Max).Slice()
	if err != nil {
		s.forget(req.Connector, err)
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("claim: unexpected reply %v", res)
	}
	entries, _ := res[0].([]any)
	var raw []entry
	for _, e := range entries {
		f, _ := e.([]any)
		if len(f) != 3 {
			continue
		}
		id, _ := f[0].(string)
		rec, _ := f[1].(string)
		rc, _ := f[2].(string)
		raw = append(raw, entry{id: id, rec: rec, reclaimed: rc == "1"})
	}
	if len(raw) == 0 && req.Wait > 0 {
		wait := req.Wait
		if next, _ := res[1].(string); next != "" {
			if due, err := strconv.ParseFloat(next, 64); err == nil {
				wait = min(wait, max(time.Until(time.UnixMilli(int64(due))), time.Millisecond))
			}
		}
		raw, err = s.block(ctx, k, req, wait)
		if err != nil {
			return nil, err
		}
	}
	return s.jobs(ctx, req, raw)
}

type entry struct {
	id, rec   string
	reclaimed bool
}

// block waits for new entries with XREADGROUP BLOCK, at most a second at a
// time so cancellation is noticed.
func (s *Store) block(ctx context.Context, k keys, req crmsync.ClaimRequest, wait time.Duration) ([]entry, error) {
	wait = min(wait, time.Second)
	if wait < time.Millisecond {
		return nil, nil
	}
	streams, err := s.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{
		Group: group, Consumer: req.Worker, Streams: []string{k.stream(), ">"}, Count: int64(req.Max), Block: wait,
	}).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.forget(req.Connector, err)
		return nil, fmt.Errorf("claim: %w", err)
	}
	var out []entry
	for _, st := range streams {
		for _, m := range st.Messages {
			rec, _ := m.Values["j"].(string)
			out = append(out, entry{id: m.ID, rec: rec})
		}
	}
	return out, nil
}

// jobs decodes claimed entries. Entries already delivered (the worker that
// pushed them lost its lease before acking) are acked here, not pushed
// again; undecodable ones go to the dead letters rather than block the
// queue.
func (s *Store) jobs(ctx context.Context, req crmsync.ClaimRequest, raw []entry) ([]crmsync.Job, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	k := s.k(req.Connector)
	recs := make([]jobcodec.Record, len(raw))
	errs := make([]error, len(raw))
	pipe := s.rdb.Pipeline()
	exists := make([]*goredis.IntCmd, len(raw))
	for i, e := range raw {
		recs[i], errs[i] = jobcodec.Decode([]byte(e.rec))
		if errs[i] == nil {
			exists[i] = pipe.Exists(ctx, k.done(recs[i].ID()))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("claim: %w", err)
	}
	var out []crmsync.Job
	for i, e := range raw {
		if errs[i] != nil {
			j := crmsync.Job{Connector: req.Connector, Activity: bridge.Activity{ID: "undecodable:" + e.id}, Worker: req.Worker, Handle: e.id}
			if err := s.DeadLetter(ctx, j, errs[i].Error()); err != nil {
				return nil, err
			}
			continue
		}
		j := crmsync.Job{
			Connector: req.Connector, Activity: recs[i].Activity, Open: recs[i].Open, Task: recs[i].Task, Attempt: recs[i].Attempt,
			LastError: recs[i].LastError, EnqueuedAt: recs[i].EnqueuedAt, Worker: req.Worker,
			Handle: e.id, Reclaimed: e.reclaimed,
		}
		if exists[i].Val() == 1 {
			if err := s.Ack(ctx, j); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

// Ack implements crmsync.Store.
func (s *Store) Ack(ctx context.Context, j crmsync.Job) error {
	k := s.k(j.Connector)
	err := ackScript.Run(ctx, s.rdb, []string{k.stream(), k.done(j.ID()), k.delivered()},
		group, j.Handle, ms(s.opts.MarkerRetention)).Err()
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return nil
}

// Nack implements crmsync.Store.
func (s *Store) Nack(ctx context.Context, j crmsync.Job, retryAt time.Time, lastErr string) error {
	rec, err := jobcodec.Encode(jobcodec.Record{Activity: j.Activity, Open: j.Open, Task: j.Task, Attempt: j.Attempt + 1, LastError: lastErr, EnqueuedAt: j.EnqueuedAt})
	if err != nil {
		return fmt.Errorf("nack: %w", err)
	}
	k := s.k(j.Connector)
	n, err := nackScript.Run(ctx, s.rdb, []string{k.stream(), k.delayed()},
		group, j.Handle, j.Worker, retryAt.UnixMilli(), rec).Int()
	if err != nil {
		return fmt.Errorf("nack: %w", err)
	}
	if n == 0 {
		return crmsync.ErrLeaseLost
	}
	return nil
}

// DeadLetter implements crmsync.Store.
func (s *Store) DeadLetter(ctx context.Context, j crmsync.Job, reason string) error {
	if len(reason) > jobcodec.MaxLastError {
		reason = reason[:jobcodec.MaxLastError]
	}
	v, err := json.Marshal(crmsync.DeadLetter{
		Connector: j.Connector, Activity: j.Activity, Open: j.Open, Task: j.Task, Attempts: j.Attempt + 1, Reason: reason,
		EnqueuedAt: j.EnqueuedAt.UTC(), DiedAt: s.opts.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	k := s.k(j.Connector)
	n, err := deadScript.Run(ctx, s.rdb, []string{k.stream(), k.dead()},
		group, j.Handle, j.Worker, j.ID(), v).Int()
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	if n == 0 {
		return crmsync.ErrLeaseLost
	}
	return nil
}

// connectors lists the known connectors, or just one.
func (s *Store) connectors(ctx context.Context, only string) ([]string, error) {
	if only != "" {
		return []string{only}, nil
	}
	names, err := s.rdb.SMembers(ctx, s.connectorsKey()).Result()
	sort.Strings(names)
	return names, err
}

// DeadLetters implements crmsync.Store.
func (s *Store) DeadLetters(ctx context.Context, connector string, limit int) ([]crmsync.DeadLetter, error) {
	names, err := s.connectors(ctx, connector)
	if err != nil {
		return nil, err
	}
	var out []crmsync.DeadLetter
	for _, c := range names {
		m, err := s.rdb.HGetAll(ctx, s.k(c).dead()).Result()
		if err != nil {
			return nil, err
		}
		for id, v := range m {
			var d crmsync.DeadLetter
			if err := json.Unmarshal([]byte(v), &d); err != nil {
				d = crmsync.DeadLetter{Connector: c, Activity: bridge.Activity{ID: id}, Reason: "undecodable record"}
			}
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].DiedAt.Equal(out[j].DiedAt) {
			return out[i].DiedAt.Before(out[j].DiedAt)
		}
		return out[i].ID() < out[j].ID()
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Retry implements crmsync.Store.
func (s *Store) Retry(ctx context.Context, id string) error {
	names, err := s.connectors(ctx, "")
	if err != nil {
		return err
	}
	n := 0
	for _, c := range names {
		v, err := s.rdb.HGet(ctx, s.k(c).dead(), id).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return err
		}
		ok, err := s.requeue(ctx, c, id, v)
		if err != nil {
			return err
		}
		if ok {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("dead letter %s: %w", id, crmsync.ErrNotFound)
	}
	return nil
}

func (s *Store) requeue(ctx context.Context, connector, id, v string) (bool, error) {
	var d crmsync.DeadLetter
	if err := json.Unmarshal([]byte(v), &d); err != nil || d.ID() == "" {
		return false, nil // undecodable: only purge removes it
	}
	rec, err := jobcodec.Encode(jobcodec.Record{Activity: d.Activity, Open: d.Open, Task: d.Task, EnqueuedAt: s.opts.Now()})
	if err != nil {
		return false, err
	}
	if err := s.register(ctx, connector); err != nil {
		return false, err
	}
	k := s.k(connector)
	n, err := retryScript.Run(ctx, s.rdb, []string{k.dead(), k.stream()}, id, rec).Int()
	return n == 1, err
}

// RetryAll implements crmsync.Store.
func (s *Store) RetryAll(ctx context.Context, connector string) (int, error) {
	names, err := s.connectors(ctx, connector)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range names {
		m, err := s.rdb.HGetAll(ctx, s.k(c).dead()).Result()
		if err != nil {
			return n, err
		}
		for id, v := range m {
			ok, err := s.requeue(ctx, c, id, v)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
	}
	return n, nil
}

// Purge implements crmsync.Store.
func (s *Store) Purge(ctx context.Context, connector string) (int, error) {
	names, err := s.connectors(ctx, connector)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range names {
		var cnt *goredis.IntCmd
		_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			cnt = p.HLen(ctx, s.k(c).dead())
			p.Del(ctx, s.k(c).dead())
			return nil
		})
		if err != nil {
			return n, err
		}
		n += int(cnt.Val())
	}
	return n, nil
}

// Stats implements crmsync.Store.
func (s *Store) Stats(ctx context.Context) ([]crmsync.QueueStats, error) {
	names, err := s.connectors(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]crmsync.QueueStats, 0, len(names))
	for _, c := range names {
		k := s.k(c)
		var xlen, zc, hl *goredis.IntCmd
		var dl *goredis.StringCmd
		var pend *goredis.XPendingCmd
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			xlen = p.XLen(ctx, k.stream())
			pend = p.XPending(ctx, k.stream(), group)
			zc = p.ZCard(ctx, k.delayed())
			hl = p.HLen(ctx, k.dead())
			dl = p.Get(ctx, k.delivered())
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) && !strings.Contains(err.Error(), "NOGROUP") {
			return nil, err
		}
		st := crmsync.QueueStats{Connector: c, Delayed: zc.Val(), Dead: hl.Val()}
		st.Delivered, _ = dl.Int64()
		if p, err := pend.Result(); err == nil {
			st.InFlight = p.Count
		}
		st.Ready = max(xlen.Val()-st.InFlight, 0)
		out = append(out, st)
	}
	return out, nil
}

// ReserveStart implements crmsync.Store.
func (s *Store) ReserveStart(ctx context.Context, k crmsync.StartKey) (string, error) {
	if k.ID == "" || k.Margin < 0 {
		return "", errors.New("reserve start: id required, margin not negative")
	}
	start := k.Start.UnixMilli()
	m := k.Margin.Milliseconds()
	cutoff := k.Start.Add(-s.opts.StartRetention).UnixMilli()
	key := s.startsKey(k.User, k.Remote)
	src, cid := k.Source, k.CallID
	if !k.Known() {
		src, cid = "", ""
	}
	dup, err := reserveScript.Run(ctx, s.rdb, []string{key, key + ":calls"},
		start-m, start+m, k.ID, start, cutoff, ms(s.opts.StartRetention), src, cid).Text()
	if err != nil {
		return "", fmt.Errorf("reserve start: %w", err)
	}
	return dup, nil
}
