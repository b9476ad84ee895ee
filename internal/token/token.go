// Package token signs and verifies the relay's acknowledgement tokens.
//
// A token is short enough for a URL path (`{external_url}/ack/{token}`) and a
// card button's value, and uses only URL-safe characters:
//
//	base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))
//
// with unpadded base64url and payload the claims as compact JSON. As in JWT,
// the MAC covers the encoded payload exactly as it appears in the token, so
// Verify checks the signature (in constant time) before it decodes anything,
// and a token whose payload was re-encoded in any way fails the check. Both
// parts must be in their one canonical encoding, so each claims has exactly
// one token that verifies.
package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the claims format Sign writes and Verify accepts.
const Version = 1

// ActionAck is the action of an acknowledgement token.
const ActionAck = "ack"

// MaxLen bounds the length of a token Verify looks at; a real token is a few
// hundred characters.
const MaxLen = 2048

// MaxClockSkew is how far in the future a token's issue time may lie and
// still verify: replicas' clocks differ a little, but a token issued hours
// from now was not issued by a relay with a sane clock.
const MaxClockSkew = 5 * time.Minute

// Errors Verify returns, wrapped with context; test with errors.Is.
var (
	// ErrMalformed: the token is not one Sign could have produced (bad
	// shape, bad encoding, bad claims, unknown version).
	ErrMalformed = errors.New("malformed token")
	// ErrSignature: the token was not signed with this secret, or was
	// altered after signing.
	ErrSignature = errors.New("invalid token signature")
	// ErrExpired: the token was genuine but its time has passed.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the token is genuine but claims to be issued more
	// than MaxClockSkew in the future.
	ErrNotYetValid = errors.New("token not yet valid")
)

// Claims is what a token says. Sign and Verify keep times to the second.
type Claims struct {
	Version        int
	Action         string
	GroupID        string
	NotificationID string
	Receiver       string
	IssuedAt       time.Time
	ExpiresAt      time.Time
}

// wire is Claims as encoded: short keys and Unix seconds keep tokens short.
type wire struct {
	V   int    `json:"v"`
	A   string `json:"a"`
	G   string `json:"g,omitempty"`
	N   string `json:"n,omitempty"`
	R   string `json:"r,omitempty"`
	IAT int64  `json:"iat"`
	EXP int64  `json:"exp"`
}

var enc = base64.RawURLEncoding.Strict()

// Sign returns the token for c. A zero Version means the current one; Action
// and ExpiresAt are required and ExpiresAt must come after IssuedAt.
func Sign(secret []byte, c Claims) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("sign token: empty secret")
	}
	if c.Version == 0 {
		c.Version = Version
	}
	switch {
	case c.Version != Version:
		return "", fmt.Errorf("sign token: unsupported version %d", c.Version)
	case c.Action == "":
		return "", errors.New("sign token: no action")
	case c.ExpiresAt.IsZero():
		return "", errors.New("sign token: no expiry")
	case !c.IssuedAt.IsZero() && !c.ExpiresAt.After(c.IssuedAt):
		return "", errors.New("sign token: expires before it is issued")
	}
	w := wire{V: c.Version, A: c.Action, G: c.GroupID, N: c.NotificationID, R: c.Receiver, EXP: c.ExpiresAt.Unix()}
	if !c.IssuedAt.IsZero() {
		w.IAT = c.IssuedAt.Unix()
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	p := enc.EncodeToString(payload)
	return p + "." + enc.EncodeToString(mac(secret, p)), nil
}

// Verify checks token against secret and now and returns its claims. The
// error wraps ErrMalformed, ErrSignature, ErrExpired or ErrNotYetValid. With
// ErrExpired and ErrNotYetValid the (genuine) claims come back too, so that
// callers can say which group a stale link was for.
func Verify(secret []byte, token string, now time.Time) (Claims, error) {
	if len(secret) == 0 {
		return Claims{}, fmt.Errorf("verify token: no secret configured: %w", ErrSignature)
	}
	if len(token) > MaxLen {
		return Claims{}, fmt.Errorf("verify token: %d characters, more than %d: %w", len(token), MaxLen, ErrMalformed)
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok || p == "" || s == "" || strings.Contains(s, ".") {
		return Claims{}, fmt.Errorf("verify token: not two dot-separated parts: %w", ErrMalformed)
	}
	sig, err := decodeCanonical(s)
	if err != nil {
		return Claims{}, fmt.Errorf("verify token: signature encoding: %w", ErrMalformed)
	}
	if !hmac.Equal(sig, mac(secret, p)) {
		return Claims{}, fmt.Errorf("verify token: %w", ErrSignature)
	}

	// Only a payload this relay signed gets this far.
	payload, err := decodeCanonical(p)
	if err != nil {
		return Claims{}, fmt.Errorf("verify token: payload encoding: %w", ErrMalformed)
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&w); err != nil {
		return Claims{}, fmt.Errorf("verify token: payload: %w: %w", err, ErrMalformed)
	}
	if w.V != Version {
		return Claims{}, fmt.Errorf("verify token: unsupported version %d: %w", w.V, ErrMalformed)
	}
	if w.A == "" || w.EXP == 0 {
		return Claims{}, fmt.Errorf("verify token: missing action or expiry: %w", ErrMalformed)
	}
	c := Claims{
		Version:        w.V,
		Action:         w.A,
		GroupID:        w.G,
		NotificationID: w.N,
		Receiver:       w.R,
		ExpiresAt:      time.Unix(w.EXP, 0).UTC(),
	}
	if w.IAT != 0 {
		c.IssuedAt = time.Unix(w.IAT, 0).UTC()
	}
	if !now.Before(c.ExpiresAt) {
		return c, fmt.Errorf("verify token: expired at %s: %w", c.ExpiresAt.Format(time.RFC3339), ErrExpired)
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(MaxClockSkew)) {
		return c, fmt.Errorf("verify token: issued at %s, in the future: %w", c.IssuedAt.Format(time.RFC3339), ErrNotYetValid)
	}
	return c, nil
}

// decodeCanonical decodes s only if s is exactly what enc writes for the
// decoded bytes. Go's base64 decoders skip '\r' and '\n' even in strict
// mode, so without the comparison "sig\n" or "si\ng" would verify as "sig"
// and one token would have many spellings.
func decodeCanonical(s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if enc.EncodedLen(len(b)) != len(s) || enc.EncodeToString(b) != s {
		return nil, errors.New("not the canonical encoding")
	}
	return b, nil
}

func mac(secret []byte, encodedPayload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(encodedPayload))
	return h.Sum(nil)
}
