package deploy

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// What the README says happens to a chat message when mind.callback_token
// is not set is what the relay does: the message is refused with the
// answer the README quotes, and counted as the README says.
func TestReadmeCallbackWithoutToken(t *testing.T) {
	relay := buildRelay(t)
	b, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The README's sentence, with its line breaks read as Markdown does.
	readme := strings.Join(strings.Fields(string(b)), " ")
	m := regexp.MustCompile("Without `mind.callback_token` .*? answered `200` with `(\\{[^`]*\\})`, logged, and counted as `mind_relay_acks_total\\{result=\"([a-z_]+)\"\\}`").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md no longer says what a chat message gets without mind.callback_token (answered `200` with `{...}`, logged, and counted as `mind_relay_acks_total{result=\"...\"}`)")
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(m[1]), &want); err != nil {
		t.Fatalf("the README's answer %s is not JSON: %v", m[1], err)
	}

	// A chat message as Mind sends it (seed 003), to a relay of the same
	// app without a callback token.
	event, err := os.ReadFile(repoPath("internal/mind/event/testdata/seed-003-text-101.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Header struct {
			AppID string `json:"app_id"`
		} `json:"header"`
	}
	if err := json.Unmarshal(event, &ev); err != nil || ev.Header.AppID == "" {
		t.Fatalf("seed event has no header.app_id: %v", err)
	}
	r := mustTemplate(t, append(valuesFile(dryRunValues), "--set", "config.mind.app_id="+ev.Header.AppID)...)
	if _, set := dig(r.config(t), "mind").(obj)["callback_token_file"]; set {
		t.Fatal("the dry-run defaults set a callback token")
	}
	rr, _ := startRendered(t, relay, r)

	code, body := rr.do(t, http.MethodPost, "/mind/callback", map[string]string{"Content-Type": "application/json"}, string(event))
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("a chat message without callback token: %d %s; the README says 200 %s", code, body, m[1])
	}
	// The relay's stderr reaches the buffer through a pipe, after the
	// answer may have: wait for the line a little.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(rr.logs.String(), "chat message refused") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(rr.logs.String(), "chat message refused") {
		t.Errorf("the refusal is not logged:\n%s", rr.logs.String())
	}
	_, metrics := rr.do(t, http.MethodGet, "/metrics", nil, "")
	if series := "mind_relay_acks_total{result=\"" + m[2] + "\"} 1\n"; !strings.Contains(metrics, series) {
		t.Errorf("/metrics lacks %q", series)
	}
}
