package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const minimal = `
mind:
  app_id: robot_test
route:
  receiver: default
receivers:
  - name: default
    open_ids: [ou_a]
`

func TestLoadMinimalFillsDefaults(t *testing.T) {
	c, err := Load([]byte(minimal), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, ":9095", c.Listen)
	require.Equal(t, "https://open.mindoffice.cn", c.Mind.BaseURL)
	require.Equal(t, "Asia/Shanghai", c.Location.String())
	require.Equal(t, 10*time.Second, c.Mind.Timeout.D())
	require.Equal(t, 4, c.Delivery.Workers)
	require.Equal(t, 5*time.Minute, c.Delivery.MaxBackoff.D())
	require.Equal(t, 24*time.Hour, c.Delivery.MaxAge.D())
	require.Equal(t, "sqlite", c.Store.Driver)
	require.True(t, strings.HasSuffix(c.Store.Path, "/data/mind-relay.db"), c.Store.Path)
	require.True(t, filepath.IsAbs(c.Store.Path), "relative to the config's folder")
	require.Equal(t, int64(4<<20), c.Sources.Alertmanager.MaxBodyBytes)
	require.Equal(t, "default", c.Receivers[0].Template)
	require.Equal(t, 10, c.Receivers[0].MaxAlerts)
	require.Equal(t, time.Minute, c.Ack.PollInterval.D())
	require.False(t, c.Ack.Enabled())
	require.Equal(t, "severity", c.Delivery.Priority.Label)
	require.Equal(t, []string{"critical", "page", "error", "warning", "info"}, c.Delivery.Priority.Order)
	require.Equal(t, 5*time.Minute, c.Delivery.Dedupe())
	require.Equal(t, 20, c.Delivery.Digest.Threshold())
	require.Equal(t, 50, c.Delivery.Digest.MaxGroups)
	require.Equal(t, time.Minute, c.Delivery.Digest.MinInterval.D())
	require.Equal(t, "page", c.Delivery.Digest.Urgent)
	require.Equal(t, 2, c.Delivery.UrgentBelow(), "critical and page are never digested")
}

func TestDeliveryPriorityAndDedupe(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // problems; nil: loads
		check      func(t *testing.T, c *Config)
	}{
		{"dedupe off", minimal + "delivery: {dedupe_window: 0s}\n", nil, func(t *testing.T, c *Config) {
			require.Equal(t, time.Duration(0), c.Delivery.Dedupe())
		}},
		{"dedupe set", minimal + "delivery: {dedupe_window: 1m}\n", nil, func(t *testing.T, c *Config) {
			require.Equal(t, time.Minute, c.Delivery.Dedupe())
		}},
		{"own order", minimal + "delivery: {priority: {label: level, order: [P1, P2]}}\n", nil, func(t *testing.T, c *Config) {
			p := c.Delivery.Priority
			require.Equal(t, "level", p.Label)
			require.Equal(t, 0, p.Rank("p1"))
			require.Equal(t, 1, p.Rank("P2"))
			require.Equal(t, 2, p.Rank("P3"), "unknown values come last")
			require.Equal(t, 2, p.Rank(""), "no label comes last")
			require.Equal(t, "P1", c.Delivery.Digest.Urgent, "an order without page: its first is urgent")
			require.Equal(t, 1, c.Delivery.UrgentBelow())
		}},
		{"bad label", minimal + "delivery: {priority: {label: 'a-b'}}\n", []string{"delivery.priority.label (line 9): must be a label name"}, nil},
		{"repeated value", minimal + "delivery: {priority: {order: [critical, Critical]}}\n", []string{`delivery.priority.order[1] (line 9): repeats "Critical"`}, nil},
		{"empty value", minimal + "delivery: {priority: {order: [critical, '']}}\n", []string{"delivery.priority.order[1] (line 9): must not be empty"}, nil},
		{"digest off", minimal + "delivery: {digest: {after: 0}}\n", nil, func(t *testing.T, c *Config) {
			require.Equal(t, 0, c.Delivery.Digest.Threshold())
		}},
		{"digest urgent not in the order", minimal + "delivery: {digest: {urgent: sev1}}\n", []string{`delivery.digest.urgent (line 9): "sev1" is not in delivery.priority.order`}, nil},
		{"digest max_groups 0", minimal + "delivery: {digest: {max_groups: 0}}\n", []string{"delivery.digest.max_groups (line 9): must be positive, not 0"}, nil},
		{"negative dedupe", minimal + "delivery: {dedupe_window: -1m}\n", []string{"delivery.dedupe_window"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(tc.yaml), t.TempDir())
			if tc.want == nil {
				require.NoError(t, err)
				tc.check(t, c)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadExampleConfig(t *testing.T) {
	for _, v := range []string{"MIND_APP_SECRET", "RELAY_ACK_SECRET", "AM_TOKEN", "RELAY_ADMIN_TOKEN"} {
		t.Setenv(v, "")
	}
	c, err := LoadFile("../../config.example.yaml", Options{DryRun: true})
	require.NoError(t, err)
	require.NotEmpty(t, c.Receivers)
	t.Setenv("MIND_APP_SECRET", "example-app-secret")
	_, err = LoadFile("../../config.example.yaml", Options{})
	require.NoError(t, err)
}

// Outside dry-run the Mind app is required whole: an empty app_id or
// app_secret is an error, never a warning. A dry run sends nothing and
// needs neither.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cr3t\n"), 0o600))
	const rest = `
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
`
	tests := []struct {
		name, mind string
		live       []string // problems outside dry-run; nil: valid
	}{
		{"both set", `mind: {app_id: robot_x, app_secret: s3cr3t}`, nil},
		{"secret from a file", `mind: {app_id: robot_x, app_secret_file: secret}`, nil},
		{"no mind section", ``, []string{
			"mind.app_id: is required: the app id of your Mind robot (only --dry-run, which sends nothing, runs without it)",
			"mind.app_secret: is required: the app secret of your Mind robot, in app_secret or app_secret_file (only --dry-run, which sends nothing, runs without it)",
		}},
		{"empty app_id", `mind: {app_id: "", app_secret: s3cr3t}`, []string{
			"mind.app_id (line 2): is required: the app id of your Mind robot (only --dry-run, which sends nothing, runs without it)",
		}},
		{"blank app_id", `mind: {app_id: "  ", app_secret: s3cr3t}`, []string{
			"mind.app_id (line 2): is required",
		}},
		{"empty app_secret", `mind: {app_id: robot_x, app_secret: ""}`, []string{
			"mind.app_secret (line 2): is required: the app secret of your Mind robot, in app_secret or app_secret_file (only --dry-run, which sends nothing, runs without it)",
		}},
		{"unset variable", `mind: {app_id: robot_x, app_secret: "${TEST_UNSET_SECRET_X}"}`, []string{
			"mind.app_secret (line 2): is required",
		}},
		{"empty secret file", `mind: {app_id: robot_x, app_secret_file: empty}`, []string{
			"mind.app_secret_file (line 2): the file is empty: it must hold the app secret of your Mind robot",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte("\n" + tc.mind + rest)
			_, err := LoadWith(b, dir, Options{DryRun: true})
			require.NoError(t, err, "a dry run needs no Mind app")
			_, err = Load(b, dir)
			require.NoError(t, err, "Load checks as for a dry run")
			_, err = LoadWith(b, dir, Options{})
			if tc.live == nil {
				require.NoError(t, err)
				return
			}
			var ps Problems
			require.ErrorAs(t, err, &ps)
			require.Len(t, ps, len(tc.live), err.Error())
			for i, w := range tc.live {
				require.True(t, strings.HasPrefix(ps[i].String(), w), "got %q, want %q", ps[i].String(), w)
			}
		})
	}
	// An unreadable secret file is one problem, not two.
	_, err := LoadWith([]byte("mind: {app_id: robot_x, app_secret_file: /nonexistent/x}"+rest), dir, Options{})
	var ps Problems
	require.ErrorAs(t, err, &ps)
	require.Len(t, ps, 1, err.Error())
	require.Equal(t, "mind.app_secret_file", ps[0].Key)
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("TEST_APP_ID", "robot_from_env")
	t.Setenv("TEST_EMPTY", "")
	tests := []struct{ in, want string }{
		{"${TEST_APP_ID}", "robot_from_env"},
		{"pre-${TEST_APP_ID}-post", "pre-robot_from_env-post"},
		{"${TEST_UNSET_VAR_X}", ""},
		{"${TEST_UNSET_VAR_X:-fallback}", "fallback"},
		{"${TEST_EMPTY:-fallback}", "fallback"},
		{"${TEST_APP_ID:-fallback}", "robot_from_env"},
		{"$$literal", "$literal"},
		{"no vars", "no vars"},
		{"$TEST_APP_ID", "$TEST_APP_ID"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, ExpandEnv(tc.in), tc.in)
	}
	c, err := Load([]byte(strings.Replace(minimal, "robot_test", "${TEST_APP_ID}", 1)), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, "robot_from_env", c.Mind.AppID)
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app"), []byte("s3cr3t-app\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ack"), []byte("0123456789abcdef-ack"), 0o600))
	c, err := Load([]byte(minimal+`
ack:
  secret_file: ack
`+strings.Replace(`mindx:`, "mindx:", "", 1)), dir)
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef-ack", c.Ack.Secret.Value())

	c, err = Load([]byte(strings.Replace(minimal, "app_id: robot_test", "app_id: robot_test\n  app_secret_file: "+filepath.Join(dir, "app"), 1)), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, "s3cr3t-app", c.Mind.AppSecret.Value(), "trailing newline trimmed, absolute path read")
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Setenv("TEST_SECRET", "hunter2-very-secret")
	c, err := Load([]byte(`
mind: {app_id: robot_test, app_secret: "${TEST_SECRET}"}
sources:
  alertmanager: {bearer_token: "${TEST_SECRET}"}
  grafana:
    basic_auth: {username: g, password: "${TEST_SECRET}"}
    hmac: {secret: "${TEST_SECRET}"}
route: {receiver: r}
receivers: [{name: r, open_ids: [ou_a]}]
ack: {secret: "${TEST_SECRET}", silence: {grafana_token: "${TEST_SECRET}"}}
admin: {token: "${TEST_SECRET}"}
`), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, "hunter2-very-secret", c.Mind.AppSecret.Value())
	js, err := json.Marshal(c)
	require.NoError(t, err)
	for name, s := range map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c), "%#v": fmt.Sprintf("%#v", c.Mind),
		"json": string(js),
	} {
		require.NotContains(t, s, "hunter2", name)
	}
	require.Contains(t, c.String(), "<secret>")
}

func TestLoadBadConfigs(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"empty", ``, []string{"config is empty"}},
		{"undefined receiver", minimal + `
  - name: other
    open_ids: [ou_b]
`, nil},
		{"route to undefined receiver", strings.Replace(minimal, "receiver: default", "receiver: default\n  routes:\n    - receiver: nope\n      matchers: ['a=\"b\"']", 1),
			[]string{`route.routes[0].receiver (line 7): receiver "nope" is not defined in receivers`}},
		{"empty open_ids", strings.Replace(minimal, "open_ids: [ou_a]", "open_ids: []", 1),
			[]string{"receivers[0].open_ids (line 8): is empty: list Mind open_ids, or set all_subscribers: true"}},
		{"both open_ids and all_subscribers", strings.Replace(minimal, "open_ids: [ou_a]", "open_ids: [ou_a]\n    all_subscribers: true", 1),
			[]string{"receivers[0].open_ids (line 8): set open_ids or all_subscribers, not both"}},
		{"bad matcher", strings.Replace(minimal, "receiver: default", "receiver: default\n  routes:\n    - matchers: ['team=~\"(\"']", 1),
			[]string{`route.routes[0].matchers[0] (line 7): bad matcher "team=~\"(\"":`}},
		{"bad duration", minimal + "delivery: {max_backoff: 5 minutes}\n", []string{`delivery.max_backoff (line 9): "5 minutes" is not a duration (e.g. 30s, 5m, 2h, 1d)`}},
		{"duplicate receiver", minimal + "  - {name: default, all_subscribers: true}\n", []string{`receivers[1].name (line 9): receiver "default" is defined twice`}},
		{"no route", strings.Replace(minimal, "route:\n  receiver: default\n", "", 1), []string{"route: is required"}},
		{"root matchers", strings.Replace(minimal, "receiver: default", "receiver: default\n  matchers: ['a=\"b\"']", 1), []string{"route.matchers (line 6): cannot be set on the root route"}},
		{"listen without a colon", minimal + "listen: \"9095\"\n", []string{`listen (line 9): "9095" is not host:port (e.g. ":9095"`}},
		{"listen port out of range", minimal + "listen: \":99999\"\n", []string{`listen (line 9): ":99999" has no valid port`}},
		{"listen on one interface", minimal + "listen: 127.0.0.1:9095\n", nil},
		{"bad timezone", minimal + "timezone: Mars/Olympus\n", []string{`timezone (line 9): unknown time zone "Mars/Olympus"`}},
		{"bad store driver", minimal + "store: {driver: mysql}\n", []string{`store.driver (line 9): "mysql" is not sqlite or postgres`}},
		{"postgres not yet", minimal + "store: {driver: postgres, dsn: x}\n", []string{`store.driver (line 9): "postgres" is not available yet`}},
		{"silence needs ack secret", minimal + "ack: {silence: {duration: 1h}}\n", []string{"ack.silence (line 9): needs ack.secret"}},
		{"short ack secret", minimal + "ack: {secret: short}\n", []string{"ack.secret (line 9): is too short"}},
		{"poll interval too short", minimal + "ack: {poll_interval: 10ms}\n", []string{"ack.poll_interval (line 9): must be at least 100ms"}},
		{"poll interval for tests", minimal + "ack: {poll_interval: 200ms}\n", nil},
		{"hmac without secret", minimal + "sources: {grafana: {hmac: {header: X}}}\n", []string{"sources.grafana.hmac.secret (line 9): is required with hmac"}},
		{"basic auth without password", minimal + "sources: {alertmanager: {basic_auth: {username: u}}}\n", []string{"sources.alertmanager.basic_auth.password (line 9): is required with basic_auth"}},
		{"secret and secret_file", minimal + "admin: {token: a, token_file: /x}\n", []string{"admin.token (line 9): set either token or token_file, not both"}},
		{"unreadable secret file", minimal + "admin: {token_file: /nonexistent/token}\n", []string{"admin.token_file (line 9): cannot read secret file"}},
		{"bad base_url", strings.Replace(minimal, "app_id: robot_test", "app_id: robot_test\n  base_url: open.mindoffice.cn", 1), []string{`mind.base_url (line 4): "open.mindoffice.cn" is not an absolute http(s) URL`}},
		{"backoff order", minimal + "delivery: {min_backoff: 10m, max_backoff: 1m}\n", []string{"delivery.max_backoff (line 9): must be at least delivery.min_backoff (10m)"}},
		{"several problems at once", strings.Replace(minimal, "open_ids: [ou_a]", "open_ids: []", 1) + "timezone: Nowhere\n",
			[]string{"timezone (line 9)", "receivers[0].open_ids (line 8)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), t.TempDir())
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	c, err := Load([]byte(minimal+"templates: {files: [tmpl/*.tmpl, /abs/x.tmpl]}\nstore: {path: db/relay.db}\n"), dir)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "tmpl/*.tmpl"), "/abs/x.tmpl"}, c.Templates.Files)
	require.Equal(t, filepath.Join(dir, "db/relay.db"), c.Store.Path)
}

// check-config teaches: every problem of the file in one run, each with
// its key path and line, in YAML's words, with the key a typo meant.
// Messages are checked whole.
func TestProblemsTeach(t *testing.T) {
	topKeys := "listen, external_url, timezone, log_level, mind, sources, route, receivers, templates, ack, delivery, admin, store, schedules, escalations, mentions"
	tests := []struct {
		name, yaml string
		want       []string // every problem, in order
	}{
		{"typo of a top key", minimal + "timezon: Asia/Tokyo\n", []string{
			"timezon (line 9): unknown key; did you mean `timezone`?",
		}},
		{"a typo does not hide a bad zone", minimal + "timezone: Mars/Olympus\ndelivery: {workrs: 4}\n", []string{
			"delivery.workrs (line 10): unknown key; did you mean `workers`?",
			`timezone (line 9): unknown time zone "Mars/Olympus" (use an IANA name such as Asia/Shanghai)`,
		}},
		{"open_id for open_ids", strings.Replace(minimal, "open_ids: [ou_a]", "open_id: ou_a", 1), []string{
			// and not also "open_ids is empty": the typo explains it.
			"receivers[0].open_id (line 8): unknown key; did you mean `open_ids`?",
		}},
		{"camel case", strings.Replace(minimal, "app_id: robot_test", "appId: robot_test", 1), []string{
			"mind.appId (line 3): unknown key; did you mean `app_id`?",
		}},
		{"prefix of a key", minimal + "listen_addr: x\n", []string{
			"listen_addr (line 9): unknown key; did you mean `listen`?",
		}},
		{"key in the wrong section", strings.Replace(minimal, "app_id: robot_test", "app_id: robot_test\n  bearer_token: x", 1), []string{
			"mind.bearer_token (line 4): unknown key here; `bearer_token` belongs under `sources.alertmanager` or under `sources.grafana` or under `ack.silence`",
		}},
		{"nothing close", minimal + "frobnicate: 1\n", []string{
			"frobnicate (line 9): unknown key; the keys here are " + topKeys,
		}},
		{"matcher as a string", strings.Replace(minimal, "receiver: default", "receiver: default\n  routes:\n    - receiver: default\n      matchers: 'team=\"db\"'", 1), []string{
			"route.routes[0].matchers (line 8): expected a list of strings, got a string",
		}},
		{"open_ids as a string", strings.Replace(minimal, "open_ids: [ou_a]", "open_ids: ou_a", 1), []string{
			"receivers[0].open_ids (line 8): expected a list of strings, got a string",
		}},
		{"receivers as a mapping", strings.Replace(minimal, "  - name: default\n    open_ids: [ou_a]", "  name: default", 1), []string{
			"receivers (line 6): expected a list of mappings, got a mapping",
		}},
		{"a word for a number", minimal + "delivery: {workers: four}\n", []string{
			"delivery.workers (line 9): expected a whole number, got a string",
		}},
		{"a fraction for a whole number", minimal + "delivery: {burst: 2.5}\n", []string{
			"delivery.burst (line 9): expected a whole number, got a number",
		}},
		{"a list for a bool", strings.Replace(minimal, "open_ids: [ou_a]", "all_subscribers: [yes]", 1), []string{
			"receivers[0].all_subscribers (line 8): expected true or false, got a list",
		}},
		{"a mapping for a duration", minimal + "delivery: {max_age: {hours: 2}}\n", []string{
			"delivery.max_age (line 9): expected a duration (e.g. 30s, 5m, 2h, 1d), got a mapping",
		}},
		{"a string for a section", minimal + "delivery: fast\n", []string{
			"delivery (line 9): expected a mapping of keys, got a string",
		}},
		{"rate_limit 0", minimal + "delivery: {rate_limit: 0}\n", []string{
			"delivery.rate_limit (line 9): must be positive, not 0 (leave the key out for the default, 10)",
		}},
		{"zero durations and counts", minimal + "delivery:\n  max_age: 0s\n  workers: 0\nreceivers_x: 1\n", []string{
			"receivers_x (line 12): unknown key; did you mean `receivers`?",
			"delivery.max_age (line 10): must be positive, not 0 (leave the key out for the default, 1d)",
			"delivery.workers (line 11): must be positive, not 0 (leave the key out for the default, 4)",
		}},
		{"receiver max_alerts 0", strings.Replace(minimal, "open_ids: [ou_a]", "open_ids: [ou_a]\n    max_alerts: 0", 1), []string{
			"receivers[0].max_alerts (line 9): must be positive, not 0 (leave the key out for the default, 10)",
		}},
		{"negative rate", minimal + "delivery: {rate_limit: -1}\n", []string{
			"delivery.rate_limit (line 9): must be positive (requests per second)",
		}},
		{"infinite rate", minimal + "delivery: {rate_limit: .inf}\n", []string{
			"delivery.rate_limit (line 9): must be a finite number",
		}},
		{"key twice", minimal + "timezone: UTC\ntimezone: Asia/Tokyo\n", []string{
			"timezone (line 10): is set twice (first on line 9): keep one",
		}},
		{"not YAML", minimal + "route: [\n", []string{
			"line 9: did not find expected node content (the file is not valid YAML)",
		}},
		{"a list at the top", "- a\n- b\n", []string{
			"line 1: the config must be a mapping of keys (such as route: and receivers:), got a list",
		}},
		{"a key that is not a word", minimal + "[a]: 1\n", []string{
			"line 9: a key must be a plain word, got a list",
		}},
		{"bad merge", minimal + "x: 1\ndelivery:\n  <<: 1\n", []string{
			"x (line 9): unknown key; the keys here are " + topKeys,
			"delivery.<< (line 11): a merge key must name a mapping or a list of mappings, got a whole number",
		}},
		{"merged keys are checked as the mapping's own", minimal + "templates: &t {files: [a]}\nack: {<<: *t}\n", []string{
			"ack.files (line 9): unknown key here; `files` belongs under `templates`",
		}},
		{"a key of another section", strings.Replace(minimal, "app_id: robot_test", "app_id: robot_test\n  path: x", 1), []string{
			"mind.path (line 4): unknown key here; `path` belongs under `store`",
		}},
		{"a route that contains itself", strings.Replace(minimal, "route:\n  receiver: default\n", "route: &r\n  receiver: default\n  routes: [*r]\n", 1), []string{
			"route.routes[0].routes[0] (line 6): the alias *r names a value that contains it",
		}},
		{"a merge that contains itself", minimal + "delivery: &d {<<: *d}\n", []string{
			"delivery.<< (line 9): the merge names a mapping that contains it",
		}},
		{"URL password hidden", minimal + "external_url: 'http://user:pa55@x y/'\n", []string{
			`external_url (line 9): "http://xxxxx@x y" is not a URL: invalid character " " in host name`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), t.TempDir())
			var ps Problems
			require.ErrorAs(t, err, &ps)
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// What decoding accepts: empty values are unset keys, merge keys merge,
// a number is a string where a string is wanted, as written.
func TestDecodeAccepts(t *testing.T) {
	c, err := Load([]byte(strings.Replace(minimal, "app_id: robot_test", "app_id: 0123", 1)+`
delivery:
  <<: {workers: 3, burst: 7}
  burst: 9
ack:
listen:
`), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, 3, c.Delivery.Workers)
	require.Equal(t, 9, c.Delivery.Burst, "the mapping's own key wins over the merged one")
	require.Equal(t, DefaultListen, c.Listen)
	require.Equal(t, "0123", c.Mind.AppID)
}

// Aliases cannot make a few lines into millions of values (the walk
// follows them), nor the error into thousands of lines.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal)
	b.WriteString("x0: &r0 {receiver: default}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "x%d: &r%d {routes: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*r%d,", i-1), 10), ","))
	}
	doc := strings.Replace(b.String(), "route:\n  receiver: default\n", "", 1) + "route: {receiver: default, routes: [*r8]}\n"
	_, err := Load([]byte(doc), t.TempDir())
	var ps Problems
	require.ErrorAs(t, err, &ps)
	require.Len(t, ps, 10, "the 9 unknown keys, then the bomb")
	require.Contains(t, ps[len(ps)-1].String(), "the document's aliases expand to more than 200000 values")

	var many strings.Builder
	many.WriteString(minimal)
	for i := range 150 {
		fmt.Fprintf(&many, "unknown_%d: x\n", i)
	}
	_, err = Load([]byte(many.String()), t.TempDir())
	require.ErrorAs(t, err, &ps)
	require.Len(t, ps, MaxProblems+1)
	require.Equal(t, "and 50 more problems", ps[MaxProblems].String())
}
