package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
)

func claims() Claims {
	return Claims{
		Action:         ActionAck,
		GroupID:        "5f1d0c7e9a2b4c11",
		NotificationID: "01JD6W3S8ZQ4V3N2M1K0J9H8G7",
		Receiver:       "db-oncall",
		IssuedAt:       t0,
		ExpiresAt:      t0.Add(24 * time.Hour),
	}
}

func sign(t *testing.T, c Claims) string {
	t.Helper()
	tok, err := Sign(secret, c)
	require.NoError(t, err)
	return tok
}

func TestRoundTrip(t *testing.T) {
	c := claims()
	tok := sign(t, c)

	require.Regexp(t, `^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`, tok, "URL-safe, unpadded, two parts")
	require.Less(t, len(tok), 300, "short enough for a URL path")

	got, err := Verify(secret, tok, t0.Add(time.Hour))
	require.NoError(t, err)
	c.Version = Version
	require.Equal(t, c, got)
}

func TestRoundTripTruncatesToSeconds(t *testing.T) {
	c := claims()
	c.IssuedAt = t0.Add(1500 * time.Millisecond)
	c.ExpiresAt = c.IssuedAt.Add(time.Hour)
	got, err := Verify(secret, sign(t, c), t0)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Second), got.IssuedAt)
	require.Equal(t, t0.Add(time.Second+time.Hour), got.ExpiresAt)
}

func TestVerifyRejects(t *testing.T) {
	good := sign(t, claims())
	p, s, _ := strings.Cut(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(p)
	require.NoError(t, err)
	sig, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)

	flip := func(b []byte, i int) []byte {
		out := append([]byte(nil), b...)
		out[i] ^= 0x01
		return out
	}
	otherSecret, err := Sign([]byte("another secret entirely"), claims())
	require.NoError(t, err)
	// A token honestly signed over a payload this package would never write.
	forgedShape := func(raw string) string {
		ep := base64.RawURLEncoding.EncodeToString([]byte(raw))
		return ep + "." + base64.RawURLEncoding.EncodeToString(mac(secret, ep))
	}

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"other secret", otherSecret, ErrSignature},
		{"payload byte altered and re-encoded", base64.RawURLEncoding.EncodeToString(flip(payload, 10)) + "." + s, ErrSignature},
		{"payload claim swapped", base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "db-oncall", "db-oncalm", 1))) + "." + s, ErrSignature},
		{"signature byte altered", p + "." + base64.RawURLEncoding.EncodeToString(flip(sig, 0)), ErrSignature},
		{"signature truncated", p + "." + base64.RawURLEncoding.EncodeToString(sig[:16]), ErrSignature},
		{"signature of another payload", p + "." + base64.RawURLEncoding.EncodeToString(mac(secret, p+"x")), ErrSignature},
		{"padded payload", p + "=." + s, ErrSignature},
		{"empty", "", ErrMalformed},
		{"no dot", p, ErrMalformed},
		{"three parts", good + ".x", ErrMalformed},
		{"empty signature", p + ".", ErrMalformed},
		{"empty payload", "." + s, ErrMalformed},
		{"signature not base64url", p + ".!!!!", ErrMalformed},
		{"signature std base64", p + "." + base64.StdEncoding.EncodeToString(sig), ErrMalformed},
		{"newline in signature", p + "." + s[:10] + "\n" + s[10:], ErrMalformed},
		{"carriage return in signature", p + "." + s[:10] + "\r" + s[10:], ErrMalformed},
		{"CRLF ending the signature", good + "\r\n", ErrMalformed},
		{"newline in payload", p[:10] + "\n" + p[10:] + "." + s, ErrSignature},
		{"non-canonical last signature character", p + "." + s[:len(s)-1] + string(s[len(s)-1]+1), ErrMalformed},
		{"garbage", "not a token at all", ErrMalformed},
		{"unicode", "确认.确认", ErrMalformed},
		{"too long", strings.Repeat("a", MaxLen) + "." + s, ErrMalformed},
		{"signed non-JSON", forgedShape("hello"), ErrMalformed},
		{"signed unknown version", forgedShape(`{"v":2,"a":"ack","exp":9999999999}`), ErrMalformed},
		{"signed without action", forgedShape(`{"v":1,"exp":9999999999}`), ErrMalformed},
		{"signed without expiry", forgedShape(`{"v":1,"a":"ack"}`), ErrMalformed},
		{"signed wrong types", forgedShape(`{"v":"1","a":"ack","exp":9999999999}`), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(secret, tc.token, t0)
			require.ErrorIs(t, err, tc.want)
			for _, other := range []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid} {
				if !errors.Is(other, tc.want) {
					require.False(t, errors.Is(err, other), "also %v", other)
				}
			}
		})
	}
}

func TestVerifyNoSecret(t *testing.T) {
	tok := sign(t, claims())
	_, err := Verify(nil, tok, t0)
	require.ErrorIs(t, err, ErrSignature)
}

func TestExpiry(t *testing.T) {
	c := claims()
	tok := sign(t, c)

	_, err := Verify(secret, tok, c.ExpiresAt.Add(-time.Second))
	require.NoError(t, err)

	got, err := Verify(secret, tok, c.ExpiresAt)
	require.ErrorIs(t, err, ErrExpired, "expiry instant is already expired")
	require.Equal(t, c.GroupID, got.GroupID, "expired claims are still reported")

	_, err = Verify(secret, tok, c.ExpiresAt.Add(time.Hour))
	require.ErrorIs(t, err, ErrExpired)
	require.Contains(t, err.Error(), "2026-11-23T02:00:00Z")
}

// Decision: a genuine token issued a little in the future (replicas' clocks
// differ) verifies; one issued beyond MaxClockSkew does not.
func TestIssuedInTheFuture(t *testing.T) {
	c := claims()
	c.IssuedAt = t0.Add(MaxClockSkew)
	c.ExpiresAt = c.IssuedAt.Add(time.Hour)
	_, err := Verify(secret, sign(t, c), t0)
	require.NoError(t, err)

	c.IssuedAt = t0.Add(24 * 365 * time.Hour)
	c.ExpiresAt = c.IssuedAt.Add(time.Hour)
	_, err = Verify(secret, sign(t, c), t0)
	require.ErrorIs(t, err, ErrNotYetValid)
}

func TestSignRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret []byte
		mod    func(*Claims)
		want   string
	}{
		{"no secret", nil, func(*Claims) {}, "empty secret"},
		{"no action", secret, func(c *Claims) { c.Action = "" }, "no action"},
		{"no expiry", secret, func(c *Claims) { c.ExpiresAt = time.Time{} }, "no expiry"},
		{"expires before issue", secret, func(c *Claims) { c.ExpiresAt = c.IssuedAt }, "expires before"},
		{"future version", secret, func(c *Claims) { c.Version = 7 }, "unsupported version 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := claims()
			tc.mod(&c)
			_, err := Sign(tc.secret, c)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSignWithoutIssuedAt(t *testing.T) {
	c := claims()
	c.IssuedAt = time.Time{}
	got, err := Verify(secret, sign(t, c), t0)
	require.NoError(t, err)
	require.True(t, got.IssuedAt.IsZero())
}

func FuzzVerify(f *testing.F) {
	good, err := Sign(secret, claims())
	require.NoError(f, err)
	for _, s := range []string{good, "", ".", "a.b", good + "x", strings.ToUpper(good), "eyJ2IjoxfQ.AAAA", "确认"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(secret, tok, t0)
		if err == nil {
			// Anything that verifies must re-sign to itself: the format
			// has one encoding per claims.
			again, err := Sign(secret, c)
			require.NoError(t, err)
			require.Equal(t, tok, again)
		}
	})
}

// FuzzToken mutates a genuine token: inserting, replacing or deleting one
// byte anywhere. Exactly one string verifies for given claims, so every
// mutation that changes the string must fail — whichever byte it is,
// including the \r and \n Go's base64 decoders skip.
func FuzzToken(f *testing.F) {
	good, err := Sign(secret, claims())
	require.NoError(f, err)
	sigStart := strings.IndexByte(good, '.') + 1
	for _, pos := range []int{0, sigStart - 1, sigStart, sigStart + 5, len(good) - 1, len(good)} {
		for _, b := range []byte{'\n', '\r', ' ', '=', 'A', '.', 0} {
			for op := range uint8(3) {
				f.Add(pos, b, op)
			}
		}
	}
	f.Fuzz(func(t *testing.T, pos int, b byte, op uint8) {
		if pos < 0 {
			pos = -pos
		}
		pos %= len(good) + 1
		var mutated string
		switch op % 3 {
		case 0: // insert b before pos
			mutated = good[:pos] + string([]byte{b}) + good[pos:]
		case 1: // replace the byte at pos with b
			if pos == len(good) {
				return
			}
			mutated = good[:pos] + string([]byte{b}) + good[pos+1:]
		case 2: // delete the byte at pos
			if pos == len(good) {
				return
			}
			mutated = good[:pos] + good[pos+1:]
		}
		_, err := Verify(secret, mutated, t0)
		if mutated == good {
			require.NoError(t, err)
			return
		}
		require.Error(t, err, "a token that differs from the one Sign wrote verified: %q", mutated)
	})
}

func BenchmarkVerify(b *testing.B) {
	tok, err := Sign(secret, claims())
	require.NoError(b, err)
	for b.Loop() {
		if _, err := Verify(secret, tok, t0); err != nil {
			b.Fatal(err)
		}
	}
}
