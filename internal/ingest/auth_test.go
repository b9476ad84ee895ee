package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mindoffice/mind-relay/internal/config"
)

func sign(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestCheckHMAC(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	body := `{"version":"1","alerts":[]}`
	plain := &config.HMACConfig{Secret: "grafana-hmac-secret", Header: "X-Grafana-Alerting-Signature", MaxSkew: config.Duration(5 * time.Minute)}
	stamped := *plain
	stamped.TimestampHeader = "X-Grafana-Alerting-Timestamp"
	ts := strconv.FormatInt(now.Unix(), 10)
	stale := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)

	tests := []struct {
		name    string
		cfg     *config.HMACConfig
		body    string
		headers map[string]string
		wantErr string
	}{
		{"good signature", plain, body, map[string]string{"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", body)}, ""},
		{"uppercase hex accepted", plain, body, map[string]string{"X-Grafana-Alerting-Signature": strings.ToUpper(sign("grafana-hmac-secret", body))}, ""},
		{"wrong secret", plain, body, map[string]string{"X-Grafana-Alerting-Signature": sign("other-secret", body)}, "signature does not match"},
		{"body altered by one byte", plain, strings.Replace(body, "1", "2", 1), map[string]string{"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", body)}, "signature does not match"},
		{"missing header", plain, body, nil, "no X-Grafana-Alerting-Signature header"},
		{"not hex", plain, body, map[string]string{"X-Grafana-Alerting-Signature": "zz"}, "is not hex"},
		{"timestamp fresh", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", ts+":"+body), "X-Grafana-Alerting-Timestamp": ts}, ""},
		{"timestamp in milliseconds", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", ts+"000:"+body), "X-Grafana-Alerting-Timestamp": ts + "000"}, ""},
		{"timestamp stale", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", stale+":"+body), "X-Grafana-Alerting-Timestamp": stale}, "more than 5m"},
		{"timestamp missing", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", body)}, "no X-Grafana-Alerting-Timestamp header"},
		{"timestamp not signed", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", body), "X-Grafana-Alerting-Timestamp": ts}, "signature does not match"},
		{"timestamp replaced", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", ts+":"+body), "X-Grafana-Alerting-Timestamp": strconv.FormatInt(now.Unix()+1, 10)}, "signature does not match"},
		{"timestamp garbage", &stamped, body, map[string]string{
			"X-Grafana-Alerting-Signature": sign("grafana-hmac-secret", body), "X-Grafana-Alerting-Timestamp": "yesterday"}, "not a Unix time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/webhook/grafana", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			err := checkHMAC(r, []byte(tc.body), tc.cfg, now)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			require.NotContains(t, err.Error(), "grafana-hmac-secret")
			var he *Error
			require.ErrorAs(t, err, &he)
			require.Equal(t, 401, he.Status)
			require.Equal(t, "unauthorized", he.Msg, "the client learns nothing about why")
		})
	}
}

func TestCheckAuth(t *testing.T) {
	bearer := config.SourceConfig{BearerToken: "tok-123", AuthScheme: "Bearer"}
	custom := config.SourceConfig{BearerToken: "tok-123", AuthScheme: "Token"}
	basic := config.SourceConfig{BasicAuth: &config.BasicAuth{Username: "grafana", Password: "pw-456"}, AuthScheme: "Bearer"}
	both := config.SourceConfig{BearerToken: "tok-123", AuthScheme: "Bearer", BasicAuth: basic.BasicAuth}
	tests := []struct {
		name   string
		sc     config.SourceConfig
		header string
		basic  []string
		ok     bool
	}{
		{"no auth configured", config.SourceConfig{}, "", nil, true},
		{"bearer ok", bearer, "Bearer tok-123", nil, true},
		{"bearer scheme case-insensitive", bearer, "bearer tok-123", nil, true},
		{"bearer wrong", bearer, "Bearer tok-124", nil, false},
		{"bearer prefix of token", bearer, "Bearer tok-12", nil, false},
		{"bearer missing", bearer, "", nil, false},
		{"bearer wrong scheme", bearer, "Token tok-123", nil, false},
		{"custom scheme", custom, "Token tok-123", nil, true},
		{"basic ok", basic, "", []string{"grafana", "pw-456"}, true},
		{"basic wrong password", basic, "", []string{"grafana", "pw"}, false},
		{"basic wrong user", basic, "", []string{"admin", "pw-456"}, false},
		{"either: bearer", both, "Bearer tok-123", nil, true},
		{"either: basic", both, "", []string{"grafana", "pw-456"}, true},
		{"either: neither", both, "Bearer nope", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/webhook/grafana", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if tc.basic != nil {
				r.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			err := checkAuth(r, tc.sc)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.NotContains(t, err.Error(), "tok-123")
				require.NotContains(t, err.Error(), "pw-456")
			}
		})
	}
}
