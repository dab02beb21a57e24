package api_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callbridge/callbridge/bridge"
	"github.com/callbridge/callbridge/internal/api"
	"github.com/callbridge/callbridge/internal/cards"
	"github.com/callbridge/callbridge/internal/secret"
)

// cardBench is n agents, each with a caller-card stream open over HTTP,
// and a reader per stream that says when an offer has come off the wire.
type cardBench struct {
	desk    *cards.Engine
	arrived []chan time.Time
	ended   []chan struct{}
	stop    func()
}

func newCardBench(b *testing.B, n int) *cardBench {
	b.Helper()
	var users []cards.User
	set := api.TokenSet{Agents: map[string]secret.Secret{}}
	for i := range n {
		ext := fmt.Sprint(1000 + i)
		users = append(users, cards.User{Extension: ext})
		set.Agents[ext] = secret.Secret("bench-token-0123456789-" + ext)
	}
	desk := cards.New(cards.Options{Users: users})
	m := api.New(api.Deps{Auth: api.NewTokens(set, api.TokenOptions{Loopback: true}), Agents: desk,
		Limits: api.Limits{StreamsPerAgent: 1, StreamsTotal: n}})
	srv := httptest.NewServer(m)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	cb := &cardBench{desk: desk}
	var bodies []func() error
	for i := range n {
		ext := fmt.Sprint(1000 + i)
		req, _ := http.NewRequest("GET", srv.URL+"/api/agents/"+ext+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+string(set.Agents[ext]))
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("stream %d: %v %v", i, resp, err)
		}
		bodies = append(bodies, resp.Body.Close)
		ch, ended := make(chan time.Time, 1), make(chan struct{}, 1)
		cb.arrived, cb.ended = append(cb.arrived, ch), append(cb.ended, ended)
		go func() {
			rd := bufio.NewReader(resp.Body)
			kind := ""
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				switch {
				case strings.HasPrefix(line, "event: "):
					kind = line
				case kind == "event: offer\n" && strings.HasPrefix(line, "data: "):
					ch <- time.Now() // the whole card is in
				case kind == "event: ended\n" && strings.HasPrefix(line, "data: "):
					ended <- struct{}{}
				}
			}
		}()
	}
	cb.stop = func() {
		for _, c := range bodies {
			c()
		}
		srv.Close()
	}
	return cb
}

// ring offers agent i a call and waits for its card on the wire, then
// ends the call and waits for that too (not timed), so every stream is
// idle again when the next call comes.
func (cb *cardBench) ring(i, call int) time.Duration {
	ext := fmt.Sprint(1000 + i)
	id := fmt.Sprint("bench-", call)
	start := time.Now()
	cb.desk.Transition(bridge.Transition{Time: start, CallID: id, User: ext, State: bridge.Ringing, Direction: bridge.Inbound, RemoteNumber: "+358401234567"})
	took := (<-cb.arrived[i]).Sub(start)
	cb.desk.Transition(bridge.Transition{Time: start, CallID: id, User: ext, State: bridge.HungUp, Direction: bridge.Inbound})
	<-cb.ended[i]
	return took
}

func quantiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[min(len(d)-1, len(d)*99/100)]
}

// BenchmarkCardLatency: from a ringing transition to the agent's offer
// read off its SSE stream over loopback HTTP, with 1,000 agents' streams
// open, against the same with one stream open (the baseline, measured in
// the same run). Reports p50 and p99 of both, and the ratios.
func BenchmarkCardLatency(b *testing.B) {
	const agents = 1000
	base := newCardBench(b, 1)
	full := newCardBench(b, agents)
	defer base.stop()
	defer full.stop()
	var one, many []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate which goes first, so neither gains from the other's
		// warm caches or parked goroutines.
		if i%2 == 0 {
			one = append(one, base.ring(0, i))
			many = append(many, full.ring(i*7919%agents, i)) // a different agent each time
		} else {
			many = append(many, full.ring(i*7919%agents, i))
			one = append(one, base.ring(0, i))
		}
	}
	b.StopTimer()
	b50, b99 := quantiles(one)
	p50, p99 := quantiles(many)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(b50), "base-p50-ms")
	b.ReportMetric(ms(b99), "base-p99-ms")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(float64(p50)/float64(b50), "p50/base")
	b.ReportMetric(float64(p99)/float64(b99), "p99/base")
}
