package subscribe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callbridge/callbridge/internal/netallow"
)

// pbxOnly allows the PBX of these tests, on 127.0.0.1.
var pbxOnly, _ = netallow.Parse([]string{"127.0.0.1/32"})

func TestNewValidates(t *testing.T) {
	ok := Config{PBX: "127.0.0.1:5060", Listen: "127.0.0.1:0", Extensions: []string{"101"}}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr []string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "everything missing", edit: func(c *Config) { *c = Config{} },
			wantErr: []string{"pbx: required", "listen: required", "extensions: at least one"}},
		{name: "pbx without port", edit: func(c *Config) { c.PBX = "127.0.0.1" }, wantErr: []string{"pbx: \"127.0.0.1\": want host:port"}},
		{name: "tcp", edit: func(c *Config) { c.Transport = "tcp" }, wantErr: []string{"transport: \"tcp\": only udp"}},
		{name: "bad extension", edit: func(c *Config) { c.Extensions = []string{"101", "1@2", ""} },
			wantErr: []string{"extensions[1]", "extensions[2]"}},
		{name: "duplicate extension", edit: func(c *Config) { c.Extensions = []string{"101", "101"} }, wantErr: []string{"extensions[1]: \"101\" listed twice"}},
		{name: "negative expiry", edit: func(c *Config) { c.Expiry = -time.Second }, wantErr: []string{"expiry"}},
		{name: "password without username", edit: func(c *Config) { c.Password = "pw-not-in-errors" }, wantErr: []string{"username, password: set both"}},
		{name: "bad contact", edit: func(c *Config) { c.Contact = "nohostport" }, wantErr: []string{"contact"}},
		{name: "listen unusable", edit: func(c *Config) { c.Listen, c.AllowedSources = "256.0.0.1:1", pbxOnly }, wantErr: []string{"listen 256.0.0.1:1"}},
		{name: "off loopback without allowed sources", edit: func(c *Config) { c.Listen = "0.0.0.0:0" },
			wantErr: []string{"listen: 0.0.0.0:0 listens off loopback"}},
		{name: "off loopback with allowed sources", edit: func(c *Config) { c.Listen, c.AllowedSources = "0.0.0.0:0", pbxOnly }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			cfg.Extensions = append([]string(nil), ok.Extensions...)
			tt.edit(&cfg)
			s, err := New(cfg)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				s.conn.Close()
				return
			}
			if err == nil {
				s.conn.Close()
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "pw-not-in-errors") {
				t.Error("password in the error")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(Config{PBX: "127.0.0.1:5060", Listen: "0.0.0.0:0", AllowedSources: pbxOnly, Extensions: []string{"101"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	if s.cfg.Expiry != 600*time.Second || s.cfg.Domain != "127.0.0.1" || s.cfg.User != "callbridge" ||
		s.cfg.MinBackoff != time.Second || s.cfg.MaxBackoff != 5*time.Minute || s.cfg.Transport != "udp" {
		t.Errorf("defaults: %+v", s.cfg)
	}
	// A wildcard listener advertises the address that routes to the PBX.
	if s.contact.Host != "127.0.0.1" || s.contact.Port == 0 {
		t.Errorf("contact %s", s.contact.String())
	}
}

func TestRunTwiceAndCancelledEarly(t *testing.T) {
	s, err := New(Config{PBX: "127.0.0.1:9", Listen: "127.0.0.1:0", Extensions: []string{"101"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run on a done context: %v", err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("second Run: no error")
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 30*time.Second
	tests := []struct {
		failures int
		base     time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{5, 16 * time.Second}, {6, 30 * time.Second}, {100, 30 * time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			d := backoff(lo, hi, tt.failures)
			if d < tt.base*4/5 || d > tt.base*6/5 {
				t.Errorf("backoff(%d) = %v, want %v ±20%%", tt.failures, d, tt.base)
			}
		}
	}
}

func TestRefreshIn(t *testing.T) {
	for _, tt := range []struct{ granted, want time.Duration }{
		{600 * time.Second, 480 * time.Second},
		{2 * time.Second, 1600 * time.Millisecond},
		{0, 100 * time.Millisecond},
	} {
		if got := refreshIn(tt.granted); got != tt.want {
			t.Errorf("refreshIn(%v) = %v, want %v", tt.granted, got, tt.want)
		}
	}
}

func TestParseSubscriptionState(t *testing.T) {
	tests := []struct {
		v    string
		want subState
	}{
		{"active;expires=599", subState{expires: 599 * time.Second}},
		{"pending", subState{}},
		{"terminated;reason=timeout", subState{terminated: true, reason: "timeout"}},
		{" Terminated ; reason=noresource ; retry-after=10", subState{terminated: true, reason: "noresource"}},
		{"active;expires=abc", subState{}},
		{"active;expires=0", subState{}},
		{"", subState{}},
	}
	for _, tt := range tests {
		if got := parseSubscriptionState(sip.NewHeader("Subscription-State", tt.v)); got != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.v, got, tt.want)
		}
	}
	if got := parseSubscriptionState(nil); got != (subState{}) {
		t.Errorf("nil header: %+v", got)
	}
}

// sip.subscribe.contact is the address put in the Contact header, where
// the PBX sends NOTIFYs, whatever the listener's own address.
func TestKeyContact(t *testing.T) {
	s, err := New(Config{PBX: "127.0.0.1:5060", Listen: "127.0.0.1:0", Contact: "192.0.2.5:5071", Extensions: []string{"101"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	if s.contact.Host != "192.0.2.5" || s.contact.Port != 5071 {
		t.Errorf("contact %s, want sip:callbridge@192.0.2.5:5071", s.contact.String())
	}
}
