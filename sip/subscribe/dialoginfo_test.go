package subscribe

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Bodies in the shapes real notifiers send.
const (
	// Asterisk (res_pjsip_dialog_info_body_generator), extension ringing,
	// the caller known through the hint.
	asteriskEarly = `<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:101@127.0.0.1:5060">
 <dialog id="101" direction="recipient">
  <remote>
   <identity display="Dave Customer">sip:0401234567@127.0.0.1</identity>
   <target uri="sip:0401234567@127.0.0.1"/>
  </remote>
  <local>
   <identity display="Alice">sip:101@127.0.0.1</identity>
   <target uri="sip:101@127.0.0.1:5060"/>
  </local>
  <state>early</state>
 </dialog>
</dialog-info>
`
	asteriskConfirmed = `<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="2" state="full" entity="sip:101@127.0.0.1:5060">
 <dialog id="101">
  <state>confirmed</state>
 </dialog>
</dialog-info>
`
	asteriskIdle = `<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:101@127.0.0.1:5060">
 <dialog id="101">
  <state>terminated</state>
 </dialog>
</dialog-info>
`
	// Asterisk, extension on hold.
	asteriskHold = `<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="5" state="full" entity="sip:101@127.0.0.1:5060">
 <dialog id="101">
  <state>confirmed</state>
  <local>
   <target uri="sip:101@127.0.0.1:5060">
    <param pname="+sip.rendering" pvalue="no"/>
   </target>
  </local>
 </dialog>
</dialog-info>
`
	// A proxy-style notifier (Kamailio/OpenSIPS pua_dialoginfo) with call
	// ids, tags and a prefixed namespace.
	proxyPartial = `<?xml version="1.0"?>
<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="7" state="partial" entity="sip:102@pbx.example.com">
  <d:dialog id="as7d900as8" call-id="a84b4c76e66710@pc33" local-tag="1928301774" remote-tag="456887766" direction="initiator">
    <d:state event="remote-bye" code="200">terminated</d:state>
    <d:local><d:identity display="Bob">sip:102@pbx.example.com</d:identity></d:local>
    <d:remote>
      <d:identity>tel:+358401234567</d:identity>
      <d:target uri="sip:+358401234567@gw.example.com;user=phone"/>
    </d:remote>
  </d:dialog>
  <d:dialog id="x2" call-id="c2@pc33" direction="recipient">
    <d:state>proceeding</d:state>
  </d:dialog>
</d:dialog-info>`
)

func TestParseDialogInfo(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *Info
		wantErr string
	}{
		{name: "asterisk early with caller", body: asteriskEarly, want: &Info{
			Version: 1, State: Full, Entity: "sip:101@127.0.0.1:5060",
			Dialogs: []Dialog{{
				ID: "101", Direction: Recipient, State: Early,
				Local:  Participant{Identity: "sip:101@127.0.0.1", Display: "Alice", Target: "sip:101@127.0.0.1:5060"},
				Remote: Participant{Identity: "sip:0401234567@127.0.0.1", Display: "Dave Customer", Target: "sip:0401234567@127.0.0.1"},
			}},
		}},
		{name: "asterisk confirmed", body: asteriskConfirmed, want: &Info{
			Version: 2, State: Full, Entity: "sip:101@127.0.0.1:5060",
			Dialogs: []Dialog{{ID: "101", State: Confirmed}},
		}},
		{name: "asterisk on hold", body: asteriskHold, want: &Info{
			Version: 5, State: Full, Entity: "sip:101@127.0.0.1:5060",
			Dialogs: []Dialog{{ID: "101", State: Confirmed, Local: Participant{Target: "sip:101@127.0.0.1:5060"}}},
		}},
		{name: "partial, several dialogs, prefixed namespace", body: proxyPartial, want: &Info{
			Version: 7, State: Partial, Entity: "sip:102@pbx.example.com",
			Dialogs: []Dialog{
				{
					ID: "as7d900as8", CallID: "a84b4c76e66710@pc33", LocalTag: "1928301774", RemoteTag: "456887766",
					Direction: Initiator, State: Terminated, Event: "remote-bye", Code: 200,
					Local:  Participant{Identity: "sip:102@pbx.example.com", Display: "Bob"},
					Remote: Participant{Identity: "tel:+358401234567", Target: "sip:+358401234567@gw.example.com;user=phone"},
				},
				{ID: "x2", CallID: "c2@pc33", Direction: Recipient, State: Proceeding},
			},
		}},
		{name: "no dialogs", body: `<dialog-info version="3" state="full" entity="sip:101@pbx"/>`,
			want: &Info{Version: 3, State: Full, Entity: "sip:101@pbx", Dialogs: []Dialog{}}},
		{name: "unknown direction is unreported, bad code dropped",
			body: `<dialog-info version="1" state="full"><dialog id="a" direction="sideways"><state code="abc">Confirmed</state></dialog></dialog-info>`,
			want: &Info{Version: 1, State: Full, Dialogs: []Dialog{{ID: "a", State: Confirmed}}}},
		{name: "unknown elements ignored",
			body: `<dialog-info version="1" state="full"><x:ext xmlns:x="urn:x"/><dialog id="a"><duration>12</duration><state>early</state><foo/></dialog></dialog-info>`,
			want: &Info{Version: 1, State: Full, Dialogs: []Dialog{{ID: "a", State: Early}}}},

		{name: "empty", body: "  \r\n", wantErr: "empty body"},
		{name: "not xml", body: "SIP/2.0 200 OK", wantErr: "dialoginfo:"},
		{name: "truncated", body: asteriskEarly[:200], wantErr: "unexpected EOF"},
		{name: "wrong root", body: `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:101@pbx"/>`, wantErr: "not dialog-info"},
		{name: "missing version", body: `<dialog-info state="full"/>`, wantErr: "version: required"},
		{name: "negative version", body: `<dialog-info version="-1" state="full"/>`, wantErr: "version \"-1\""},
		{name: "huge version", body: `<dialog-info version="99999999999999999999999" state="full"/>`, wantErr: "version"},
		{name: "missing state", body: `<dialog-info version="1"/>`, wantErr: "state: required"},
		{name: "bad state", body: `<dialog-info version="1" state="some"/>`, wantErr: "want full or partial"},
		{name: "dialog without id", body: `<dialog-info version="1" state="full"><dialog><state>early</state></dialog></dialog-info>`, wantErr: "dialog[0]: id: required"},
		{name: "dialog without state", body: `<dialog-info version="1" state="full"><dialog id="a"/></dialog-info>`, wantErr: "dialog[0]: state: required"},
		{name: "dialog with empty state", body: `<dialog-info version="1" state="full"><dialog id="a"><state> </state></dialog></dialog-info>`, wantErr: "state: empty"},
		{name: "dialog with unknown state", body: `<dialog-info version="1" state="full"><dialog id="a"><state>ringing</state></dialog></dialog-info>`, wantErr: `state "ringing": unknown`},
		{name: "unsupported charset", body: `<?xml version="1.0" encoding="EBCDIC"?><dialog-info version="1" state="full"/>`, wantErr: "charset"},
		{name: "too big", body: "<dialog-info>" + strings.Repeat(" ", MaxBodySize) + "</dialog-info>", wantErr: "exceeds"},
		{name: "too many dialogs", body: `<dialog-info version="1" state="full">` +
			strings.Repeat(`<dialog id="a"><state>early</state></dialog>`, MaxDialogs+1) + `</dialog-info>`, wantErr: "dialogs exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDialogInfo([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("got %+v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseDialogInfoWrongRootIsSentinel(t *testing.T) {
	_, err := ParseDialogInfo([]byte(`<presence/>`))
	if !errors.Is(err, ErrNotDialogInfo) {
		t.Fatalf("err = %v, want ErrNotDialogInfo", err)
	}
}

func TestParticipantNumber(t *testing.T) {
	tests := []struct {
		p    Participant
		want string
	}{
		{Participant{Identity: "sip:0401234567@127.0.0.1"}, "0401234567"},
		{Participant{Identity: "<sip:101@pbx;transport=udp>"}, "101"},
		{Participant{Identity: "sips:%2B358401234567@gw;user=phone"}, "+358401234567"},
		{Participant{Identity: "tel:+358401234567;phone-context=example.com"}, "+358401234567"},
		{Participant{Identity: "sip:user:pw@host"}, "user"},
		{Participant{Identity: "sip:anonymous@anonymous.invalid"}, "anonymous"},
		{Participant{Identity: "sip:invalid@pbx"}, ""}, // Asterisk: no number
		{Participant{Identity: "sip:pbx.example.com", Target: "sip:102@pbx"}, "102"},
		{Participant{Identity: "mailto:a@b"}, ""},
		{Participant{Identity: "garbage"}, ""},
		{Participant{Identity: "sip:%zz@host"}, "%zz"},
		{Participant{}, ""},
	}
	for _, tt := range tests {
		if got := tt.p.Number(); got != tt.want {
			t.Errorf("%+v.Number() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// FuzzParseDialogInfo checks that no body makes the parser panic, and that
// what it accepts is self-consistent.
func FuzzParseDialogInfo(f *testing.F) {
	for _, s := range []string{asteriskEarly, asteriskConfirmed, asteriskIdle, asteriskHold, proxyPartial,
		`<dialog-info version="1" state="full"/>`, `<dialog-info`, ``, `<?xml version="1.0" encoding="latin1"?><dialog-info/>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseDialogInfo(b)
		if err != nil {
			if info != nil {
				t.Fatal("info with error")
			}
			return
		}
		if info.State != Full && info.State != Partial {
			t.Fatalf("state %q accepted", info.State)
		}
		for _, d := range info.Dialogs {
			if d.ID == "" || d.State == "" {
				t.Fatalf("dialog %+v accepted", d)
			}
			_ = d.Remote.Number()
		}
		// Applying it never panics either.
		l := newLive()
		l.apply("101", info, fixedTime)
	})
}
