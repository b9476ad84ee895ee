#!/usr/bin/env bash
# The whole test suite: installs what the tests need (scripts/deps.sh),
# then formatting, vet, and every test with the race detector, including
# the end-to-end tests against a real Alertmanager and the built binary,
# then a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SKIP_DEPS:-}" != "1" ]; then
  scripts/deps.sh
fi
export PATH="$(go env GOPATH)/bin:$PATH"
# Tests that need a real Alertmanager, helm, amtool or promtool fail
# instead of skipping when these tools are missing.
export MIND_RELAY_REQUIRE_TOOLS="${MIND_RELAY_REQUIRE_TOOLS:-1}"

unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*'))"
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 20m ./...
# A few seconds of every native fuzz target, so each keeps compiling and
# its corpus keeps passing (FUZZ_TIME, FUZZ_BUDGET tune it; FUZZ=0 skips).
if [ "${FUZZ:-1}" != "0" ]; then
  scripts/fuzz.sh
fi
