package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mindoffice/mind-relay/internal/config"
)

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Msg: "unauthorized"}

// secretEqual compares in constant time, whatever the lengths.
func secretEqual(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// checkAuth enforces a source's configured Authorization: a token with its
// scheme, basic auth, or either when both are set. No configured auth lets
// every request in. The reason for a refusal is logged, never returned.
func checkAuth(r *http.Request, sc config.SourceConfig) error {
	bearer, basic := sc.BearerToken != "", sc.BasicAuth != nil
	if !bearer && !basic {
		return nil
	}
	if bearer {
		scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, sc.AuthScheme) && secretEqual(strings.TrimSpace(cred), sc.BearerToken.Value()) {
			return nil
		}
	}
	if basic {
		u, p, ok := r.BasicAuth()
		// Evaluate both comparisons so timing does not tell which failed.
		userOK := secretEqual(u, sc.BasicAuth.Username)
		passOK := secretEqual(p, sc.BasicAuth.Password.Value())
		if ok && userOK && passOK {
			return nil
		}
	}
	if r.Header.Get("Authorization") == "" {
		return &Error{Status: http.StatusUnauthorized, Msg: "unauthorized", Err: errNoCredentials}
	}
	return &Error{Status: http.StatusUnauthorized, Msg: "unauthorized", Err: errBadCredentials}
}

var (
	errNoCredentials  = &Error{Status: http.StatusUnauthorized, Msg: "no Authorization header"}
	errBadCredentials = &Error{Status: http.StatusUnauthorized, Msg: "credentials do not match"}
)

// challenge names the schemes a source accepts, for WWW-Authenticate.
func challenge(sc config.SourceConfig) string {
	var c []string
	if sc.BearerToken != "" {
		c = append(c, sc.AuthScheme+` realm="mind-relay"`)
	}
	if sc.BasicAuth != nil {
		c = append(c, `Basic realm="mind-relay"`)
	}
	return strings.Join(c, ", ")
}

// checkHMAC verifies Grafana's webhook signature on the raw body: the
// lowercase hex HMAC-SHA256 of the body, or of timestamp + ":" + body when
// a timestamp header is configured, in which case the timestamp (Unix
// seconds; milliseconds are accepted too) must be within max_skew of now.
func checkHMAC(r *http.Request, body []byte, h *config.HMACConfig, now time.Time) error {
	refuse := func(why string) error {
		return &Error{Status: http.StatusUnauthorized, Msg: "unauthorized", Err: errors.New(why)}
	}
	sig := strings.TrimSpace(r.Header.Get(h.Header))
	if sig == "" {
		return refuse("no " + h.Header + " header")
	}
	got, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(sig), "sha256="))
	if err != nil {
		return refuse(h.Header + " is not hex")
	}
	mac := hmac.New(sha256.New, []byte(h.Secret.Value()))
	if h.TimestampHeader != "" {
		ts := strings.TrimSpace(r.Header.Get(h.TimestampHeader))
		if ts == "" {
			return refuse("no " + h.TimestampHeader + " header")
		}
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return refuse(h.TimestampHeader + " is not a Unix time")
		}
		t := time.Unix(n, 0)
		if n > 1e12 {
			t = time.UnixMilli(n)
		}
		if skew := now.Sub(t).Abs(); skew > h.MaxSkew.D() {
			return refuse(fmt.Sprintf("%s is %s away from now, more than %s", h.TimestampHeader, skew.Round(time.Second), h.MaxSkew))
		}
		mac.Write([]byte(ts))
		mac.Write([]byte(":"))
	}
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return refuse("signature does not match")
	}
	return nil
}
