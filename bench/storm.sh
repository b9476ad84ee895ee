#!/usr/bin/env bash
# Alert storm against the built relay (BENCHMARKS.md, "Storm"): STORM_GROUPS
# groups of ALERTS alerts within WITHIN (bench/storm; every 100th group
# critical), default delivery settings (rate_limit 10/s, digest after 20)
# towards the fake Mind (bench/fakemind). Prints the relay's RSS (sampled
# peak and VmHWM), whether it stayed ready, and whether every group was
# accounted for (delivered, digested or superseded). Loopback only; every
# wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

STORM_GROUPS="${STORM_GROUPS:-2000}"
ALERTS="${ALERTS:-5}"
WITHIN="${WITHIN:-10s}"
DRAIN="${DRAIN:-3m}"
EXTRA="${EXTRA:-}" # YAML lines added to the relay's config

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/relay" ./cmd/relay
go build -o "$work/fakemind" ./bench/fakemind
go build -o "$work/storm" ./bench/storm

"$work/fakemind" >"$work/fakemind.url" 2>"$work/fakemind.log" & pids+=($!)
for _ in $(seq 100); do [ -s "$work/fakemind.url" ] && break; sleep 0.1; done
MIND_URL="$(head -n1 "$work/fakemind.url")"
[ -n "$MIND_URL" ] || { echo "storm: fakemind did not start" >&2; exit 1; }

cat > "$work/relay.yaml" <<YAML
listen: 127.0.0.1:19300
log_level: warn
external_url: http://127.0.0.1:19300
mind: {base_url: "$MIND_URL", app_id: robot_mindtest, app_secret: mindtest-app-secret-7f3c9a}
route: {receiver: oncall}
receivers: [{name: oncall, open_ids: [ou_bench_1]}]
ack: {secret: bench-ack-secret-0123456789}
store: {path: "$work/relay.db"}
$EXTRA
YAML
"$work/relay" serve --config "$work/relay.yaml" 2>"$work/relay.log" & rpid=$!; pids+=($rpid)
for _ in $(seq 100); do curl -fs -o /dev/null http://127.0.0.1:19300/-/ready && break; sleep 0.1; done

echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3); $STORM_GROUPS groups of $ALERTS alerts within $WITHIN"
"$work/storm" --relay http://127.0.0.1:19300 --pid "$rpid" --groups "$STORM_GROUPS" --alerts "$ALERTS" --within "$WITHIN" --drain "$DRAIN" | sed 's/^/   /'
echo "   cards the fake Mind showed: $(curl -s "$MIND_URL/_mindtest/messages" | grep -o '"request_id"' | wc -l)"
echo "   store: $(du -sh "$work/relay.db"* | awk '{print $1}' | paste -sd+ -)"
