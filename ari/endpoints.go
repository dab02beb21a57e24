package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Endpoint is one PBX endpoint as GET /endpoints lists it, with the caller
// id name from its configuration when Asterisk gives it.
type Endpoint struct {
	Technology string `json:"technology"`
	Resource   string `json:"resource"`
	Name       string `json:"-"`
}

// Endpoints lists the PBX's endpoints over ARI's REST interface (base is
// ari.url) for `callbridge users import` and, for PJSIP ones, reads each
// one's caller id from Asterisk's dynamic configuration
// (/asterisk/config/dynamic/res_pjsip/endpoint/<id>). That resource may be
// missing or refused (older Asterisk, a restricted ARI user): the name is
// then left empty, which is not an error. Errors never quote the URL or
// the credentials.
func Endpoints(ctx context.Context, base, user, pass string) ([]Endpoint, error) {
	base = strings.TrimSuffix(base, "/")
	c := &http.Client{Timeout: 10 * time.Second}
	var eps []Endpoint
	if code, err := restGet(ctx, c, base, "/endpoints", user, pass, &eps); err != nil {
		return nil, err
	} else if code != http.StatusOK {
		return nil, fmt.Errorf("ARI GET /endpoints: HTTP %d%s", code, authHint(code))
	}
	for i, e := range eps {
		if e.Technology != "PJSIP" || e.Resource == "" {
			continue
		}
		var tuples []struct {
			Attribute string `json:"attribute"`
			Value     string `json:"value"`
		}
		code, err := restGet(ctx, c, base, "/asterisk/config/dynamic/res_pjsip/endpoint/"+url.PathEscape(e.Resource), user, pass, &tuples)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			continue
		}
		for _, t := range tuples {
			if t.Attribute == "callerid" {
				eps[i].Name = callerIDName(t.Value, e.Resource)
			}
		}
	}
	return eps, nil
}

func authHint(code int) string {
	if code == http.StatusUnauthorized {
		return " (check ari.username and ari.password)"
	}
	return ""
}

// restGet GETs path under base and decodes a 200 answer into v. Errors
// never quote the URL, which may carry credentials.
func restGet(ctx context.Context, c *http.Client, base, path, user, pass string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, errors.New("ari.url is not a valid URL")
	}
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("ARI GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return 0, fmt.Errorf("ARI GET %s: decode: %w", path, err)
	}
	return resp.StatusCode, nil
}

// callerIDName is the name part of a caller id (`"Alice A" <101>` gives
// Alice A). A bare number, or a name that is only the extension, gives "".
func callerIDName(cid, ext string) string {
	name := cid
	if i := strings.IndexByte(cid, '<'); i >= 0 {
		name = cid[:i]
	}
	name = strings.TrimSpace(name)
	if uq, err := strconv.Unquote(name); err == nil {
		name = strings.TrimSpace(uq)
	} else {
		name = strings.TrimSpace(strings.Trim(name, `"`))
	}
	if name == ext || strings.Trim(name, "+0123456789") == "" {
		return ""
	}
	return name
}
