package cel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// LabFields is the column order of the lab's cel_custom.conf
// (../shared/asterisk-lab/etc/cel_custom.conf, format dsv), which wrote the
// recordings' cel.csv:
//
//	fields = EventType,EventTime,Name,Num,ani,rdnis,dnid,Exten,Context,ChanName,AppName,AppData,AMAFlags(amaflags),AccountCode,UniqueID(noquote),LinkedID(noquote),Peer,PeerAccount,UserField,EventExtra
var LabFields = []string{
	"EventType", "EventTime", "Name", "Num", "ani", "rdnis", "dnid", "Exten", "Context", "ChanName",
	"AppName", "AppData", "AMAFlags(amaflags)", "AccountCode", "UniqueID(noquote)", "LinkedID(noquote)",
	"Peer", "PeerAccount", "UserField", "EventExtra",
}

// column says where a CSV column goes.
type column uint8

const (
	colIgnore column = iota
	colEventType
	colEventEnum
	colUserDefType
	colEventTime
	colCallerName
	colCallerNum
	colANI
	colRDNIS
	colDNID
	colExten
	colContext
	colChanName
	colAppName
	colAppData
	colAccountCode
	colUniqueID
	colLinkedID
	colPeer
	colUserField
	colExtra
)

// fieldNames maps a cel_custom field name (res/cdrel_custom/registry.c; the
// legacy template variables and SQL column names as aliases), lower case,
// to its column. Fields callbridge has no use for (amaflags, peeraccount,
// tenantid, literal, eventtimeusec) are read and ignored.
var fieldNames = map[string]column{
	"eventtype": colEventType, "eventenum": colEventEnum,
	"usereventname": colUserDefType, "userdeftype": colUserDefType,
	"eventtime": colEventTime,
	"name":      colCallerName, "cidname": colCallerName, "cid_name": colCallerName,
	"num": colCallerNum, "cidnum": colCallerNum, "cid_num": colCallerNum,
	"ani": colANI, "cidani": colANI, "cid_ani": colANI,
	"rdnis": colRDNIS, "cidrdnis": colRDNIS, "cid_rdnis": colRDNIS,
	"dnid": colDNID, "ciddnid": colDNID, "cid_dnid": colDNID,
	"exten": colExten, "context": colContext, "channame": colChanName,
	"appname": colAppName, "appdata": colAppData, "accountcode": colAccountCode,
	"uniqueid": colUniqueID, "linkedid": colLinkedID,
	"peer": colPeer, "bridgepeer": colPeer, "userfield": colUserField,
	"eventextra": colExtra, "extra": colExtra,
	"amaflags": colIgnore, "peeraccount": colIgnore, "tenantid": colIgnore,
	"literal": colIgnore, "eventtimeusec": colIgnore,
}

// Layout is the column order of a CEL CSV file.
type Layout struct {
	cols []column
	loc  *time.Location
}

// NewLayout reads a cel_custom field list: an advanced mapping's fields =
// (case-insensitive, qualifiers such as "(noquote)" allowed, literals
// skipped) or a legacy mapping's line split at its commas
// ("${CSV_QUOTE(${CALLERID(num)})}"). The separator must be a comma and
// the quote character '"', as in cel_custom's defaults. Event type, time, unique id,
// linked id and channel name are required. loc is the zone of event times
// written as dates (cel.conf dateformat); nil means UTC. Epoch times (the
// default dateformat) need no zone.
func NewLayout(fields []string, loc *time.Location) (*Layout, error) {
	l := &Layout{loc: loc}
	if l.loc == nil {
		l.loc = time.UTC
	}
	seen := map[column]bool{}
	var errs []error
	for i, f := range fields {
		c, ok := fieldNames[fieldName(f)]
		if !ok {
			errs = append(errs, fmt.Errorf("fields[%d]: unknown CEL field %q", i, f))
			continue
		}
		if c != colIgnore && seen[c] {
			errs = append(errs, fmt.Errorf("fields[%d]: %q given twice", i, f))
		}
		seen[c] = true
		l.cols = append(l.cols, c)
	}
	for _, need := range []struct {
		c    column
		name string
	}{{colEventType, "EventType"}, {colEventTime, "EventTime"}, {colUniqueID, "UniqueID"}, {colLinkedID, "LinkedID"}, {colChanName, "ChanName"}} {
		if !seen[need.c] {
			errs = append(errs, fmt.Errorf("fields: %s is required", need.name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// fieldName reduces an entry of a cel_custom field list to a field name:
// an advanced mapping's "UniqueID(noquote)" or "eventtime(int64)" loses its
// qualifiers, a legacy mapping's "${CSV_QUOTE(${CALLERID(num)})}" its
// functions; a double-quoted literal is "literal".
func fieldName(f string) string {
	f = strings.TrimSpace(f)
	if strings.HasPrefix(f, `"`) {
		return "literal"
	}
	f = strings.ToLower(strings.NewReplacer("${", "", "}", "").Replace(f))
	for strings.HasPrefix(f, "csv_quote(") && strings.HasSuffix(f, ")") {
		f = strings.TrimSpace(f[len("csv_quote(") : len(f)-1])
	}
	for _, fn := range []string{"callerid(", "channel("} {
		if strings.HasPrefix(f, fn) && strings.HasSuffix(f, ")") {
			return strings.TrimSpace(f[len(fn) : len(f)-1])
		}
	}
	if j := strings.IndexByte(f, '('); j >= 0 {
		f = f[:j]
	}
	return strings.TrimSpace(f)
}

// maxLine bounds one CSV line; a CEL record is well under 4 KiB.
const maxLine = 1 << 20

// ReadCSV feeds every row of a CEL CSV file to fn, in file order. A line
// that does not parse is counted in Stats and skipped: it is one record,
// so a broken quote never swallows the records after it. The error is for
// failures to read r, never for bad content.
func (l *Layout) ReadCSV(r io.Reader, fn func(Row)) (Stats, error) {
	var st Stats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var fields []string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		st.Rows++
		var err error
		fields, err = splitCSV(line, fields[:0])
		var row Row
		if err == nil {
			row, err = l.row(fields)
		}
		if err != nil {
			st.problem(fmt.Sprintf("line %d: %v", n, err))
			continue
		}
		row.Seq = int64(n)
		fn(row)
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("cel: read CSV at line %d: %w", n+1, err)
	}
	return st, nil
}

func (l *Layout) row(fields []string) (Row, error) {
	if len(fields) != len(l.cols) {
		return Row{}, fmt.Errorf("%d fields, want %d", len(fields), len(l.cols))
	}
	var r Row
	var typ, enum, userDef, when string
	for i, c := range l.cols {
		v := fields[i]
		switch c {
		case colEventType:
			typ = v
		case colEventEnum:
			enum = v
		case colUserDefType:
			userDef = v
		case colEventTime:
			when = v
		case colCallerName:
			r.CallerName = v
		case colCallerNum:
			r.CallerNum = v
		case colANI:
			r.ANI = v
		case colRDNIS:
			r.RDNIS = v
		case colDNID:
			r.DNID = v
		case colExten:
			r.Exten = v
		case colContext:
			r.Context = v
		case colChanName:
			r.ChanName = v
		case colAppName:
			r.AppName = v
		case colAppData:
			r.AppData = v
		case colAccountCode:
			r.AccountCode = v
		case colUniqueID:
			r.UniqueID = v
		case colLinkedID:
			r.LinkedID = v
		case colPeer:
			r.Peer = v
		case colUserField:
			r.UserField = v
		case colExtra:
			r.Extra = v
		}
	}
	if enum != "" {
		// eventenum is the type proper; eventtype then carries a
		// user-defined event's name.
		if enum == EventUser && userDef == "" {
			userDef = typ
		}
		typ = enum
	}
	if err := r.SetEvent(typ, userDef); err != nil {
		return Row{}, err
	}
	t, err := ParseTime(when, l.loc)
	if err != nil {
		return Row{}, err
	}
	r.Time = t
	return r, nil
}

// splitCSV splits one line as cel_custom's dsv format writes it: fields
// separated by commas, optionally quoted with '"', a quote inside a quoted
// field doubled.
func splitCSV(line string, out []string) ([]string, error) {
	for i := 0; ; {
		if i < len(line) && line[i] == '"' {
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(line[j:], '"')
				if k < 0 {
					return nil, errors.New("unterminated quote")
				}
				b.WriteString(line[j : j+k])
				j += k + 1
				if j < len(line) && line[j] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				break
			}
			out = append(out, b.String())
			if j == len(line) {
				return out, nil
			}
			if line[j] != ',' {
				return nil, fmt.Errorf("text after a closing quote at column %d", j+1)
			}
			i = j + 1
			continue
		}
		k := strings.IndexByte(line[i:], ',')
		if k < 0 {
			f := line[i:]
			if strings.IndexByte(f, '"') >= 0 {
				return nil, errors.New("quote inside an unquoted field")
			}
			return append(out, f), nil
		}
		f := line[i : i+k]
		if strings.IndexByte(f, '"') >= 0 {
			return nil, errors.New("quote inside an unquoted field")
		}
		out = append(out, f)
		i += k + 1
	}
}

// ParseTime reads an event time as CEL backends write it: epoch seconds
// with microseconds (cel.conf's default dateformat, "1795277374.505899"),
// a date and time in loc ("2026-11-21 16:09:34[.505899]", a dateformat of
// "%F %T", cel_pgsql and cel_odbc text columns), or RFC 3339 with an offset.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("no event time")
	}
	if loc == nil {
		loc = time.UTC
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T ") {
		return parseEpoch(s)
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	// With an offset: RFC 3339, strftime's %z (+0200), a space or T.
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad event time %.40q", s)
}

func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 || n > 1<<40 || len(frac) > 9 {
		return time.Time{}, fmt.Errorf("bad event time %.40q", s)
	}
	var ns int64
	if frac != "" {
		f, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad event time %.40q", s)
		}
		ns = int64(f)
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
	}
	return time.Unix(n, ns).UTC(), nil
}
