#!/usr/bin/env bash
# Webhook benchmark (BENCHMARKS.md). Needs wrk (apt-get install wrk).
#  1. throughput: wrk posts the captured three-alert Alertmanager group to a
#     no-op Gin handler, then to the relay with its durable queue on
#     (SQLite, synchronous=FULL), same machine, same run, same settings;
#  2. latency: bench/latency posts distinct groups at a fixed rate and
#     measures accept → Mind (fake Mind, bench/fakemind) per notification.
# Everything listens on loopback; every loop is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15s}"
CONNS="${CONNS:-32}"
RATE="${RATE:-500}"
LAT_DURATION="${LAT_DURATION:-20s}"
PAYLOAD="${PAYLOAD:-testdata/alertmanager/am-0.25-group-1.json}"
LAT_PAYLOAD="${LAT_PAYLOAD:-testdata/alertmanager/am-0.25-firing.json}"

command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/relay" ./cmd/relay
go build -o "$work/fakemind" ./bench/fakemind
go build -o "$work/noop" ./bench/noop
go build -o "$work/latency" ./bench/latency

wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "bench: $1 did not come up" >&2; exit 1; }

# The fake Mind binds a free port and prints its URL on stdout once bound.
"$work/fakemind" >"$work/fakemind.url" 2>"$work/fakemind.log" & pids+=($!)
for _ in $(seq 100); do [ -s "$work/fakemind.url" ] && break; kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
MIND_URL="$(head -n1 "$work/fakemind.url")"
[ -n "$MIND_URL" ] || { echo "bench: fakemind did not start: $(cat "$work/fakemind.log")" >&2; exit 1; }
"$work/noop" --listen 127.0.0.1:18090 2>"$work/noop.log" & pids+=($!)
cat > "$work/relay.yaml" <<YAML
listen: 127.0.0.1:19095
log_level: warn
mind: {base_url: "$MIND_URL", app_id: robot_mindtest, app_secret: mindtest-app-secret-7f3c9a}
route: {receiver: oncall}
receivers: [{name: oncall, open_ids: [ou_bench_1, ou_bench_2]}]
ack: {secret: bench-ack-secret-0123456789}
# Dedupe and digests off: the throughput run re-sends one payload on purpose,
# and the latency run matches every group to its own card.
delivery: {workers: 16, rate_limit: 2000, burst: 200, dedupe_window: 0s, digest: {after: 0}}
store: {path: "$work/relay.db"}
YAML
"$work/relay" serve --config "$work/relay.yaml" 2>"$work/relay.log" & pids+=($!)
wait_up "$MIND_URL/_mindtest/attempts"
wait_up http://127.0.0.1:19095/-/ready

echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3), wrk -t2 -c$CONNS -d$DURATION, payload $(basename "$PAYLOAD")"
echo "== no-op gin handler"
PAYLOAD="$PAYLOAD" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua http://127.0.0.1:18090/webhook/alertmanager | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "== relay (durable queue on)"
PAYLOAD="$PAYLOAD" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua http://127.0.0.1:19095/webhook/alertmanager | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "   relay RSS after the run: $(ps -o rss= -p "${pids[2]}") KiB"
echo "== relay, every request a distinct group (nothing superseded: all rendered and sent)"
PAYLOAD="$PAYLOAD" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/post-distinct.lua http://127.0.0.1:19095/webhook/alertmanager | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "   relay RSS after the run: $(ps -o rss= -p "${pids[2]}") KiB"

# Let the queue drain the throughput run before measuring latency.
for _ in $(seq 600); do
  depth=$(curl -s http://127.0.0.1:19095/metrics | awk '/^mind_relay_queue_depth /{print $2}')
  [ "${depth:-0}" = "0" ] && break
  sleep 0.2
done
curl -s -X POST "$MIND_URL/_mindtest/reset" >/dev/null
echo "== accept → Mind latency at $RATE webhooks/s for $LAT_DURATION"
"$work/latency" --relay http://127.0.0.1:19095 --mind "$MIND_URL" --rate "$RATE" --duration "$LAT_DURATION" --payload "$LAT_PAYLOAD"
