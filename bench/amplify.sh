#!/usr/bin/env bash
# Memory cost of maximum-size webhooks (BENCHMARKS.md, "Amplification").
# For each PARALLEL count, a fresh relay (fake Mind behind it) gets that
# many webhooks of ALERTS small alerts at once (bench/amplify: ~2.4 MB
# each for 100,000, under the 4 MiB body limit; a 503 is retried after
# Retry-After, as Alertmanager does); the script prints the relay's RSS
# before, its peak (VmHWM) and its RSS once the queue has drained.
# Everything listens on loopback; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

ALERTS="${ALERTS:-100000}"
PARALLEL="${PARALLEL:-1 10}"
EXTRA="${EXTRA:-}" # YAML lines added to the relay's config

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/relay" ./cmd/relay
go build -o "$work/fakemind" ./bench/fakemind
go build -o "$work/amplify" ./bench/amplify

"$work/fakemind" >"$work/fakemind.url" 2>"$work/fakemind.log" & pids+=($!)
for _ in $(seq 100); do [ -s "$work/fakemind.url" ] && break; sleep 0.1; done
MIND_URL="$(head -n1 "$work/fakemind.url")"
[ -n "$MIND_URL" ] || { echo "amplify: fakemind did not start" >&2; exit 1; }

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }

echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3); $ALERTS alerts per webhook"
for n in $PARALLEL; do
  port=$((19200 + n))
  cat > "$work/relay.yaml" <<YAML
listen: 127.0.0.1:$port
log_level: warn
mind: {base_url: "$MIND_URL", app_id: robot_mindtest, app_secret: mindtest-app-secret-7f3c9a}
route: {receiver: oncall}
receivers: [{name: oncall, open_ids: [ou_bench_1]}]
delivery: {workers: 4, rate_limit: 1000}
store: {path: "$work/relay-$n.db"}
$EXTRA
YAML
  "$work/relay" serve --config "$work/relay.yaml" 2>"$work/relay-$n.log" & rpid=$!; pids+=($rpid)
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/-/ready" && break; sleep 0.1; done
  before=$(kib "$rpid" VmRSS)
  "$work/amplify" --relay "http://127.0.0.1:$port" --alerts "$ALERTS" --parallel "$n" | sed 's/^/   /' || echo "   (some webhooks not accepted)"
  for _ in $(seq 600); do
    depth=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^mind_relay_queue_depth /{print $2}')
    [ "${depth:-0}" = "0" ] && break
    sleep 0.2
  done
  echo "== $n parallel: RSS before $(mib "$before") MiB, peak $(mib "$(kib "$rpid" VmHWM)") MiB, after the queue drained $(mib "$(kib "$rpid" VmRSS)") MiB; store $(du -sh "$work/relay-$n.db"* | awk '{print $1}' | paste -sd+ -)"
  kill "$rpid"; wait "$rpid" 2>/dev/null || true
done
