#!/usr/bin/env bash
# Hypha proxy benchmark: direct vs through a Hypha proxy pair (mTLS), HTTP/1.1 and HTTP/2, on loopback.
# Usage: bench/run.sh [runs=3] [seconds=10]     Writes bench/RESULTS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-3}"
SECS="${2:-10}"
RATE=1000            # fixed rate for the latency runs (requests/s)
OUT="$ROOT/bench/out"
rm -rf "$OUT"; mkdir -p "$OUT"

for tool in hey h2load curl; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hey nghttp2-client curl; else echo "need $tool" >&2; exit 1; fi
  fi
done
for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25*; do [ -x "$d/bin/java" ] && export JAVA_HOME="$d" && break; done
JAVA="$JAVA_HOME/bin/java"

echo "building..."
./mvnw -B -q -ntp -pl micro-proxy -am -DskipTests package test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$OUT/test.classpath" >/dev/null
TCP="$ROOT/micro-proxy/target/test-classes:$ROOT/micro-proxy/target/classes:$(cat "$OUT/test.classpath")"
JFLAGS=(-XX:+UseSerialGC -Xmx32m -XX:+UseCompactObjectHeaders ${HYPHA_BENCH_JIT:--XX:TieredStopAtLevel=1} -Xss256k
  --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon/{print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.02; done; echo "port $1 never opened" >&2; exit 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

IDA=client.bench.serviceaccount.identity.cluster.local
IDB=server.bench.serviceaccount.identity.cluster.local
"$JAVA" -cp "$TCP" dev.hypha.proxy.testing.IssueCerts "$OUT/certs" "$IDA" "$IDB"

APP=$(free_port)
"$JAVA" -XX:+UseParallelGC -cp "$TCP" dev.hypha.proxy.testing.HttpBackend 127.0.0.1 "$APP" > "$OUT/app.log" 2>&1 &
PIDS+=($!)
wait_port "$APP"

IN=$(free_port); INADM=$(free_port); OUTP=$(free_port); OUTADM=$(free_port)
start_ns=$(date +%s%N)
env -i PATH="$PATH" HYPHA_PROXY_MODE=explicit HYPHA_PROXY_INBOUND_LISTEN_ADDR=127.0.0.1:$IN \
  HYPHA_PROXY_OUTBOUND_LISTEN_ADDR=127.0.0.1:0 HYPHA_PROXY_ADMIN_LISTEN_ADDR=127.0.0.1:$INADM \
  HYPHA_PROXY_IDENTITY_CERT_FILE="$OUT/certs/server.crt" HYPHA_PROXY_IDENTITY_KEY_FILE="$OUT/certs/server.key" \
  HYPHA_PROXY_TRUST_ANCHORS_FILE="$OUT/certs/anchors.crt" HYPHA_PROXY_LOG_LEVEL=warn \
  "$JAVA" "${JFLAGS[@]}" -jar micro-proxy/target/hypha-proxy.jar > "$OUT/proxy-in.log" 2>&1 &
PIN=$!; PIDS+=($PIN)
wait_port "$INADM"
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
env -i PATH="$PATH" HYPHA_PROXY_MODE=explicit HYPHA_PROXY_INBOUND_LISTEN_ADDR=127.0.0.1:0 \
  HYPHA_PROXY_OUTBOUND_LISTEN_ADDR=127.0.0.1:$OUTP HYPHA_PROXY_ADMIN_LISTEN_ADDR=127.0.0.1:$OUTADM \
  HYPHA_PROXY_IDENTITY_CERT_FILE="$OUT/certs/client.crt" HYPHA_PROXY_IDENTITY_KEY_FILE="$OUT/certs/client.key" \
  HYPHA_PROXY_TRUST_ANCHORS_FILE="$OUT/certs/anchors.crt" HYPHA_PROXY_LOG_LEVEL=warn \
  HYPHA_PROXY_DESTINATIONS="svc.bench:$APP=127.0.0.1:$IN@$IDB" \
  "$JAVA" "${JFLAGS[@]}" -jar micro-proxy/target/hypha-proxy.jar > "$OUT/proxy-out.log" 2>&1 &
POUT=$!; PIDS+=($POUT)
wait_port "$OUTADM"
sleep 3
IDLE_IN=$(rss_kib $PIN); IDLE_OUT=$(rss_kib $POUT); IDLE_IN_ANON=$(anon_kib $PIN); IDLE_OUT_ANON=$(anon_kib $POUT)
curl -sf -o /dev/null -H "Host: svc.bench:$APP" "http://127.0.0.1:$OUTP/warm" || { echo "pair not working" >&2; cat "$OUT"/proxy-*.log; exit 1; }

DIRECT="http://127.0.0.1:$APP/bytes?bytes=1024"
VIA="http://127.0.0.1:$OUTP/bytes?bytes=1024"
# hey: -q is per worker; 10 workers x 100/s = 1000 requests/s
hey_pct() { awk -v p="$1" '$0 ~ "  "p"% in " {print $3*1000}' "$2"; }   # ms
hey_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
h2_mean() { awk '/time for request:/ {v=$6; if (v ~ /ms$/) {sub("ms","",v); print v} else if (v ~ /us$/) {sub("us","",v); print v/1000} else {sub("s","",v); print v*1000}}' "$1"; }
h2_rps() { awk '/^finished in/ {gsub(",","",$4); print $4}' "$1"; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

PIN_T0=$(cpu_ticks $PIN); POUT_T0=$(cpu_ticks $POUT); REQS=0
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS"
  hey -z "${SECS}s" -c 10 -q $((RATE/10)) "$DIRECT" > "$OUT/h1-direct-$i.txt"
  hey -z "${SECS}s" -c 10 -q $((RATE/10)) -host "svc.bench:$APP" "$VIA" > "$OUT/h1-pair-$i.txt"
  REQS=$((REQS + RATE*SECS))
  hey -z "${SECS}s" -c 32 "$DIRECT" > "$OUT/h1max-direct-$i.txt"
  hey -z "${SECS}s" -c 32 -host "svc.bench:$APP" "$VIA" > "$OUT/h1max-pair-$i.txt"
  # h2load reports no percentiles, and its rate-limited mode times requests from when they were scheduled, so
  # HTTP/2 latency is measured unloaded: one connection, one stream at a time.
  h2load -n 3000 -c 1 -m 1 "$DIRECT" > "$OUT/h2-direct-$i.txt"
  h2load -n 3000 -c 1 -m 1 -H ":authority: svc.bench:$APP" "$VIA" > "$OUT/h2-pair-$i.txt"
  h2load -D "$SECS" -c 8 -m 16 "$DIRECT" > "$OUT/h2max-direct-$i.txt"
  h2load -D "$SECS" -c 8 -m 16 -H ":authority: svc.bench:$APP" "$VIA" > "$OUT/h2max-pair-$i.txt"
done
PIN_T1=$(cpu_ticks $PIN); POUT_T1=$(cpu_ticks $POUT)
AFTER_IN=$(rss_kib $PIN); AFTER_OUT=$(rss_kib $POUT); AFTER_IN_ANON=$(anon_kib $PIN); AFTER_OUT_ANON=$(anon_kib $POUT)
TICK=$(getconf CLK_TCK)

m() { local kind=$1 f=$2; shift 2; for i in $(seq 1 "$RUNS"); do "$f" "$@" "$OUT/$kind-$i.txt"; done | median; }
d50=$(m h1-direct hey_pct 50); p50=$(m h1-pair hey_pct 50)
d99=$(m h1-direct hey_pct 99); p99=$(m h1-pair hey_pct 99)
dmax=$(m h1max-direct hey_rps); pmax=$(m h1max-pair hey_rps)
h2d=$(m h2-direct h2_mean); h2p=$(m h2-pair h2_mean)
h2dmax=$(m h2max-direct h2_rps); h2pmax=$(m h2max-pair h2_rps)
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
calc() { awk "BEGIN {printf \"%.3f\", $1}"; }

source "$ROOT/bench/section.sh"
cat > "$OUT/section.md" <<MD
## Proxy: direct vs through a Hypha proxy pair (\`bench/run.sh\`)

Made by \`bench/run.sh $RUNS $SECS\` on $(date -u +%Y-%m-%d) — $(nproc) cores, $("$JAVA" -version 2>&1 | head -1).
Proxy flags: \`${JFLAGS[*]}\`, JVM mode (no native image), one event-loop thread, BoringSSL, TLS 1.3 mTLS between
the proxies. Backend: the Netty test app (\`HttpBackend\`), 1 KiB responses, on loopback. Client: \`hey\` (HTTP/1.1)
and \`h2load\` (HTTP/2, prior knowledge). Medians of $RUNS runs of ${SECS}s each; every number comes from this one run.

## Latency at a fixed $RATE requests/s (measured at the client)

| | direct | through the pair (mTLS) | added |
|---|---|---|---|
| HTTP/1.1 p50 (ms) | $d50 | $p50 | $(calc "$p50-$d50") |
| HTTP/1.1 p99 (ms) | $d99 | $p99 | $(calc "$p99-$d99") |
| HTTP/2 mean, unloaded (ms; one stream at a time, h2load) | $h2d | $h2p | $(calc "$h2p-$h2d") |

## Maximum throughput (requests/s)

| | direct | through the pair | pair / direct |
|---|---|---|---|
| HTTP/1.1 (hey, 32 connections) | $dmax | $pmax | $(calc "$pmax/$dmax") |
| HTTP/2 (h2load, 8 connections x 16 streams) | $h2dmax | $h2pmax | $(calc "$h2pmax/$h2dmax") |

The client, the backend and both proxies share the same 2 cores, so throughput through the pair is bounded by CPU
contention as much as by the proxies.

## Proxy footprint

| | outbound proxy | inbound proxy |
|---|---|---|
| RSS idle, mTLS credentials loaded (MiB) | $(mib "$IDLE_OUT") | $(mib "$IDLE_IN") |
| RssAnon idle (MiB) | $(mib "$IDLE_OUT_ANON") | $(mib "$IDLE_IN_ANON") |
| RSS after the whole run (MiB) | $(mib "$AFTER_OUT") | $(mib "$AFTER_IN") |
| RssAnon after the whole run (MiB) | $(mib "$AFTER_OUT_ANON") | $(mib "$AFTER_IN_ANON") |
| CPU seconds, whole run | $(calc "($POUT_T1-$POUT_T0)/$TICK") | $(calc "($PIN_T1-$PIN_T0)/$TICK") |

Start to listening (inbound proxy, exec to admin port open, includes loading credentials): ${ready_ms} ms.
Raw outputs of every run are in \`bench/out/\` (not committed).
MD
replace_section proxy "$OUT/section.md"
echo "wrote the proxy section of bench/RESULTS.md"
cat "$OUT/section.md"
