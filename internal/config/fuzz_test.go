package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load: it must return a config or an
// error, never panic, and a config it returns must print no secret.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"config.example.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"mind: {app_id: robot_test, app_secret: s}\nroute: {receiver: r}\nreceivers: [{name: r, open_ids: [ou_a]}]\n",
		"route: {receiver: r, routes: [{matchers: ['a=~\"(\"'], receiver: r}]}\nreceivers: [{name: r}]\n",
		"mind: {app_id: a, app_secret: ${NOPE:-x}}\nack: {secret: s, silence: {alertmanager_url: 'http://am:9093'}}\n",
		"timezone: Mars/Olympus\ndelivery: {rate_limit: -1, workers: 0}\nlisten: '::'\n",
		"a: &a [*a]\n",
		"- 1\n- 2\n",
		"mind: !!binary aGVsbG8=\n",
		"{mind: {app_id: x}, mind: {app_id: y}}",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Load(b, dir)
		if err != nil {
			if c != nil {
				t.Fatalf("both a config and an error: %v", err)
			}
			return
		}
		if c == nil {
			t.Fatal("neither a config nor an error")
		}
		// Whatever else the document set, printing the config shows none
		// of its secrets: mark every secret and look for the mark.
		for _, p := range configSecrets(c) {
			*p = secretMarker + "-leak"
		}
		for name, s := range map[string]string{"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c), "%#v": fmt.Sprintf("%#v", *c)} {
			if strings.Contains(s, secretMarker) {
				t.Fatalf("%s shows a secret: %s", name, s)
			}
		}
	})
}

// configSecrets points at every secret of c.
func configSecrets(c *Config) []*Secret {
	out := []*Secret{&c.Mind.AppSecret, &c.Mind.CallbackToken, &c.Ack.Secret, &c.Admin.Token, &c.Store.DSN}
	for _, s := range []*SourceConfig{&c.Sources.Alertmanager, &c.Sources.Grafana} {
		out = append(out, &s.BearerToken)
		if s.BasicAuth != nil {
			out = append(out, &s.BasicAuth.Password)
		}
		if s.HMAC != nil {
			out = append(out, &s.HMAC.Secret)
		}
	}
	if c.Ack.Silence != nil {
		out = append(out, &c.Ack.Silence.GrafanaToken)
	}
	return out
}

// secretMarker starts every value the secret fuzz target writes under a
// secret key; it occurs nowhere else, so finding it in an error or in the
// loaded config's text means a secret leaked.
const secretMarker = "ZqX7"

// secretSlots are the keys whose value is a secret, and the keys whose
// whole value holds one (a string typed where the block belongs, as in
// `hmac: "the-secret"` or `basic_auth: "user:pass"`).
var secretSlots = [][]string{
	{"mind", "app_secret"},
	{"mind", "callback_token"},
	{"sources", "alertmanager", "bearer_token"},
	{"sources", "grafana", "bearer_token"},
	{"sources", "alertmanager", "basic_auth"},
	{"sources", "grafana", "basic_auth", "password"},
	{"sources", "grafana", "hmac"},
	{"sources", "grafana", "hmac", "secret"},
	{"ack", "secret"},
	{"ack", "silence", "grafana_token"},
	{"admin"},
	{"admin", "token"},
	{"store", "dsn"},
}

// secretShapes place the value under a key in the ways a user might type
// it, right or wrong. (A value written as a key is a key: check-config may
// name it.)
var secretShapes = []string{
	"%s",
	`"%s"`,
	`'%s'`,
	"[%s]",
	"{k: %s}",
	"\n  - %s",
	"|\n  %s",
	"!!binary %s",
	"!!int %s",
	"12%s",
	`"%s\n%s"`,
	"&anchor %s",
	"{username: u, password: [%s]}",
	"{secret: {v: %s}}",
}

// FuzzLoadSecretShapes writes a secret-looking value, in some shape, under
// a secret key of an otherwise valid config: whether Load accepts it or
// not, neither its error nor the loaded config may contain any part of it.
func FuzzLoadSecretShapes(f *testing.F) {
	for slot := range secretSlots {
		for shape := range secretShapes {
			f.Add(uint8(slot), uint8(shape), "secretValue123")
		}
	}
	f.Add(uint8(4), uint8(0), "u:pass")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, slot, shape uint8, suffix string) {
		value := secretMarker + safeSuffix(suffix)
		doc := secretDoc(secretSlots[int(slot)%len(secretSlots)], secretShapes[int(shape)%len(secretShapes)], value)
		c, err := Load([]byte(doc), dir)
		if err != nil {
			if strings.Contains(err.Error(), secretMarker) {
				t.Fatalf("the error echoes the secret:\n%s\nerror: %v", doc, err)
			}
			return
		}
		for name, s := range map[string]string{"String": c.String(), "%+v": fmt.Sprintf("%+v", *c), "%#v": fmt.Sprintf("%#v", *c)} {
			if strings.Contains(s, secretMarker) {
				t.Fatalf("%s of the loaded config shows the secret:\n%s\n%s", name, doc, s)
			}
		}
	})
}

// safeSuffix keeps the characters that cannot move the value out from
// under its key (no newline, colon, comment or flow punctuation).
func safeSuffix(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_-.+/=~", r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// secretDoc builds a config that is valid except perhaps for the value
// placed at path.
func secretDoc(path []string, shape, value string) string {
	v := strings.ReplaceAll(shape, "%s", value)
	var b strings.Builder
	if path[0] != "mind" {
		b.WriteString("mind: {app_id: robot_test, app_secret: app-secret}\n")
	} else {
		b.WriteString("mind:\n  app_id: robot_test\n")
		if path[1] != "app_secret" {
			b.WriteString("  app_secret: app-secret\n")
		}
	}
	for i, k := range path {
		if i == 0 && k == "mind" {
			continue
		}
		b.WriteString(strings.Repeat("  ", i) + k + ":")
		if i == len(path)-1 {
			// Indent continuation lines of the shape under the key.
			b.WriteString(" " + strings.ReplaceAll(v, "\n", "\n"+strings.Repeat("  ", i)) + "\n")
		} else {
			b.WriteString("\n")
		}
	}
	b.WriteString("route: {receiver: r}\nreceivers: [{name: r, open_ids: [ou_a]}]\n")
	return b.String()
}
