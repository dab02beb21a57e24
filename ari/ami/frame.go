package ami

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/callbridge/callbridge/bridge"
)

// ErrMalformed marks input that is not a well-formed AMI message. Readers
// count such messages, skip them and carry on with the next one.
var ErrMalformed = errors.New("ami: malformed message")

// maxPacket bounds one AMI message. Real events are a few hundred bytes to a
// few KiB (AttendedTransfer, the largest, is about 3 KiB); anything near this
// is garbage, and bounding it keeps a broken peer from growing our memory.
const maxPacket = 64 << 10

// bannerPrefix starts the line Asterisk sends on connect, before any message.
var bannerPrefix = []byte("Asterisk Call Manager/")

// Reader splits an AMI byte stream into messages: header lines up to a blank
// line. It accepts CRLF and bare LF line ends, skips stray blank lines, and
// records the banner line. It never fails on content: a message that is too
// long or cut off by the end of input is reported as an ErrMalformed error
// and the next call goes on with what follows.
type Reader struct {
	br     *bufio.Reader
	pkt    []byte
	banner string
	err    error // sticky read error, returned once the partial message is reported

	// Idle, if set, is called when ReadPacket has returned every whole
	// message buffered and is about to read from the underlying reader,
	// which may wait: what came before it came in together.
	Idle func()
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 16<<10), pkt: make([]byte, 0, 4<<10)}
}

// Banner is the "Asterisk Call Manager/x.y.z" line, once read.
func (r *Reader) Banner() string { return r.banner }

// ReadBanner reads the line Asterisk sends on connect, before it reads our
// Login. It fails if the first line is not an AMI banner: whatever answers
// on that port is not Asterisk's manager.
func (r *Reader) ReadBanner() (string, error) {
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", fmt.Errorf("%w: banner longer than %d bytes", ErrMalformed, r.br.Size())
		}
		return "", fmt.Errorf("ami: read banner: %w", err)
	}
	body := trimEOL(line)
	if !bytes.HasPrefix(body, bannerPrefix) {
		return "", fmt.Errorf("%w: not an AMI banner: %q", ErrMalformed, clip(string(body), 60))
	}
	r.banner = string(body)
	return r.banner, nil
}

// ReadPacket returns the next message: its header lines, each ended with
// CRLF, and the closing CRLF, which is the form goami2.Parse takes. The slice
// is only valid until the next call. At the end of input it returns io.EOF
// (or the underlying read error); for a message that is too long or was cut
// off it returns an error wrapping ErrMalformed, and the caller may go on.
func (r *Reader) ReadPacket() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if pkt, ok := r.buffered(); ok {
		return pkt, nil
	}
	r.pkt = r.pkt[:0]
	tooLong := false
	for {
		if r.Idle != nil && !r.lineBuffered() {
			r.Idle()
		}
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A single line longer than the buffer: no AMI header is. Drop
			// the rest of the message rather than grow without bound.
			tooLong = true
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) == 0 && len(r.pkt) == 0 && !tooLong {
				return nil, io.EOF
			}
			r.err = err
			if len(line) > 0 || len(r.pkt) > 0 || tooLong {
				return nil, fmt.Errorf("%w: cut off by end of input after %d bytes", ErrMalformed, len(r.pkt)+len(line))
			}
			return nil, err
		}
		body := trimEOL(line)
		if len(body) == 0 {
			switch {
			case tooLong:
				return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxPacket)
			case len(r.pkt) == 0:
				continue // stray blank line between messages
			}
			r.pkt = append(r.pkt, '\r', '\n')
			return r.pkt, nil
		}
		if tooLong {
			continue
		}
		if len(r.pkt) == 0 && bytes.HasPrefix(body, bannerPrefix) {
			// The banner is one line with no blank line after it.
			r.banner = string(body)
			continue
		}
		if len(r.pkt)+len(body)+4 > maxPacket {
			tooLong = true
			continue
		}
		r.pkt = append(r.pkt, body...)
		r.pkt = append(r.pkt, '\r', '\n')
	}
}

// buffered returns the next message without copying it when it is whole
// in the read buffer and already in ReadPacket's form: every line ended
// with CRLF, no banner. That is how Asterisk writes, and it spares copying
// each line and asking, per line, whether the next is buffered. Anything
// else (bare LF, a banner, a message not yet whole) is left to the line
// by line path, which reads the same bytes from the start.
func (r *Reader) buffered() ([]byte, bool) {
	b, _ := r.br.Peek(r.br.Buffered())
	skip := 0
	for len(b) >= skip+2 && b[skip] == '\r' && b[skip+1] == '\n' {
		skip += 2 // stray blank lines between messages
	}
	if bytes.HasPrefix(b[skip:], bannerPrefix) {
		return nil, false
	}
	for i := skip; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return nil, false
		}
		end := i + j + 1
		if j == 0 || b[end-2] != '\r' {
			return nil, false // a bare LF
		}
		if end-i == 2 && i > skip {
			pkt := b[skip:end]
			r.br.Discard(end)
			return pkt, true
		}
		i = end
	}
}

// lineBuffered says whether a whole line is buffered, so that the next
// ReadSlice returns without reading. Buffered() == 0 alone would not do:
// a read that ends inside a message leaves its start buffered, and
// finishing it waits for the connection.
func (r *Reader) lineBuffered() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1] // the '\n'
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// eventPrefix starts an event message; Asterisk always writes Event first.
var eventPrefix = []byte("Event: ")

// eventName returns the event name from a raw message's first line, or nil
// when the message does not start with an Event header (a response).
func eventName(pkt []byte) []byte {
	if !bytes.HasPrefix(pkt, eventPrefix) {
		return nil
	}
	rest := pkt[len(eventPrefix):]
	if i := bytes.IndexByte(rest, '\r'); i >= 0 {
		return rest[:i]
	}
	return rest
}

// How a VarSet of a variable the engine uses looks on the wire.
var (
	// Also matches _CALLBRIDGE_PRIVACY and __CALLBRIDGE_PRIVACY (set for
	// inheritance); the mapping checks the whole name.
	privacyHeader    = []byte(bridge.PrivacyVar + "\r\n")
	dialStatusHeader = []byte("\r\nVariable: " + varDialStatus + "\r\n")

	// Their ends, each contained in the whole; see ourVariable.
	privacyTail    = privacyHeader[len(privacyHeader)-len("_PRIVACY\r\n"):]
	dialStatusTail = dialStatusHeader[len(dialStatusHeader)-len("DIALSTATUS\r\n"):]
)

// ourVariable says whether pkt contains privacyHeader or dialStatusHeader.
// Searched for directly, each starts with a letter (C, CR) that every
// message has many of, and each false start costs; VarSet being most of
// what a PBX sends, that cost more than parsing the messages kept. Their
// tails start with a byte that is rare in AMI ('_', 'D'), so looking for
// the tail first rules most messages out in one quick pass, and the whole
// header is only searched for when the tail is there.
func ourVariable(pkt []byte) bool {
	return bytes.Contains(pkt, privacyTail) && bytes.Contains(pkt, privacyHeader) ||
		bytes.Contains(pkt, dialStatusTail) && bytes.Contains(pkt, dialStatusHeader)
}

// wanted says, from the raw bytes and before parsing, whether a message can
// matter: responses, the events Map uses, the resync list, and VarSet of the
// privacy and dial-status variables only. A busy PBX sends mostly VarSet, Newexten, CEL and
// DeviceStateChange; dropping them here saves parsing each of their headers.
func wanted(pkt []byte) bool {
	name := eventName(pkt)
	if name == nil {
		return true
	}
	if string(name) == "VarSet" {
		return ourVariable(pkt)
	}
	return mappedEvents[string(name)] || string(name) == evCoreShowChannel || string(name) == evCoreShowChannelsComplete
}
