package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var ldflagVar = regexp.MustCompile(`-X (main\.[A-Za-z_]+)=`)

func ldflagVars(t *testing.T, rel string) []string {
	t.Helper()
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, m := range ldflagVar.FindAllStringSubmatch(string(b), -1) {
		vars = append(vars, m[1])
	}
	sort.Strings(vars)
	return vars
}

// Docker cannot run here, so the image's contract is read from the
// Dockerfile: what the chart relies on, and the version stamping, which is
// also built and run for real.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0",
		"-trimpath",
		"./cmd/relay",
		"EXPOSE 9095",
		"USER 65532:65532",               // the chart's runAsUser
		`VOLUME ["/var/lib/mind-relay"]`, // the chart's persistence.mountPath
		`ENTRYPOINT ["/usr/local/bin/relay", "serve", "--config", "/etc/mind-relay/config.yaml"]`, // where the chart mounts the config
		"FROM gcr.io/distroless/static-debian12:nonroot",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^FROM golang:|^FROM --platform=\$BUILDPLATFORM golang:`).MatchString(df) {
		t.Error("Dockerfile does not build in a golang stage")
	}

	docker, make := ldflagVars(t, "Dockerfile"), ldflagVars(t, "Makefile")
	if want := []string{"main.commit", "main.version"}; !reflect.DeepEqual(docker, want) || !reflect.DeepEqual(make, want) {
		t.Fatalf("-X variables: Dockerfile %v, Makefile %v; want %v", docker, make, want)
	}
	// The stamped values reach `relay version`.
	bin := filepath.Join(t.TempDir(), "relay")
	// Same flags as buildRelay but -ldflags, so only the link step runs again.
	out, err := run(t, "", []string{"CGO_ENABLED=0"}, "go", "build",
		"-ldflags", "-X main.version=v9.8.7-test -X main.commit=c0ffee1", "-o", bin, "./cmd/relay")
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = run(t, "", nil, bin, "version")
	if err != nil {
		t.Fatalf("relay version: %v\n%s", err, out)
	}
	if !strings.Contains(out, "v9.8.7-test") || !strings.Contains(out, "c0ffee1") {
		t.Errorf("relay version does not show the stamped version and commit: %q", out)
	}
}

func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	b, err := os.ReadFile(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "internal", "templates"} {
			if line == needed || line == needed+"/" || line == "/"+needed || line == "*" {
				t.Errorf(".dockerignore excludes %s, which the image build needs", needed)
			}
		}
	}
}
