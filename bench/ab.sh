#!/usr/bin/env bash
# Concurrent A/B of two proxy builds (or two sets of JVM flags): two Hypha pairs with mTLS — A and B — in front of
# one backend, loaded at the same moment with the same load (h2load, HTTP/1.1, 10 connections, 1000 requests/s
# each), so that this machine's drift in speed (±10-30 % between runs minutes apart) hits both alike. Per round:
# the CPU ticks per 10 000 requests of each pair — its event loops, and its whole processes (JIT, GC: what
# bench/run.sh counts) — and the ratios B/A; the latency at the client of each pair (p50, p99) and its ratio B/A; then
# the median ratios, and each proxy's RSS at the end. Both pairs share the machine, so their latencies include each
# other's load: the ratio compares them, the absolute figures are not bench/run.sh's.
# A/A runs of this script agree within about ±5 % per round; take the median of five rounds or more.
#
#   bench/ab.sh JAR_A JAR_B [ROUNDS=5] [SECONDS=15]
#       JAR_A/JAR_B: proxy jars (copies of micro-proxy/target/hypha-proxy.jar; they must stay in micro-proxy/target
#       so that their class path, lib/, resolves). Extra JVM flags per side: EXTRA_A=..., EXTRA_B=...
#       SHIFT_SECS=N: before each round, N seconds of HTTP/2 at 1000 requests/s (unmeasured), so that each measured
#       round follows a change of load shape as bench/run.sh's 1000 requests/s phase does (the JIT recompiles then)
#
# Example: cp micro-proxy/target/hypha-proxy.jar micro-proxy/target/old.jar; (change, build);
#          bench/ab.sh micro-proxy/target/old.jar micro-proxy/target/hypha-proxy.jar
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source "$ROOT/bench/proc.sh" # cpu_ticks
source "$ROOT/bench/backend.sh" # backend_start
source "$ROOT/bench/classpath.sh" # test_classpath
[ $# -ge 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
JAR_A=$(realpath "$1"); JAR_B=$(realpath "$2"); ROUNDS="${3:-5}"; SECS="${4:-15}"
case "${SHIFT_SECS:-0}" in
  ''|*[!0-9]*) echo "ab: SHIFT_SECS must be a whole number of seconds (0: no shape change), not '$SHIFT_SECS'" >&2; exit 2 ;;
esac
for j in "$JAR_A" "$JAR_B"; do
  [ -f "$j" ] || { echo "ab: no jar $j" >&2; exit 2; }
  [ "$(dirname "$j")" = "$ROOT/micro-proxy/target" ] || { echo "ab: $j must be in micro-proxy/target" >&2; exit 2; }
done
command -v h2load >/dev/null || { echo "ab: needs h2load (apt-get install nghttp2-client)" >&2; exit 1; }
for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25*; do [ -x "$d/bin/java" ] && export JAVA_HOME="$d" && break; done
JAVA="$JAVA_HOME/bin/java"
OUT="$ROOT/bench/out/ab"; rm -rf "$OUT"; mkdir -p "$OUT"

[ -d micro-proxy/target/test-classes ] || ./mvnw -B -q -ntp -pl micro-proxy -am -DskipTests install >/dev/null
test_classpath micro-proxy "$OUT/proxy-test.classpath" || exit 1
TCP="$ROOT/micro-proxy/target/test-classes:$ROOT/micro-proxy/target/classes:$(cat "$OUT/proxy-test.classpath")"
PFLAGS=($(sed -n 's/^proxy-jvm-options=//p' src/main/resources/hypha/defaults.properties))
PFLAGS+=(-Djava.library.path="$ROOT/micro-proxy/target/native/META-INF/native")

# ports below the kernel's ephemeral range, none handed out twice (bench/free_port.py, as bench/run.sh)
free_port() { python3 "$ROOT/bench/free_port.py" "$OUT/ports.given"; }
wait_ready() {
  for _ in $(seq 1 1000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ready")" = 200 ] && return 0; sleep 0.01
  done
  echo "ab: proxy on admin $1 never ready (logs in $OUT)" >&2; exit 1
}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

IDA=client.bench.serviceaccount.identity.cluster.local
IDB=server.bench.serviceaccount.identity.cluster.local
"$JAVA" -cp "$TCP" dev.hypha.proxy.testing.IssueCerts "$OUT/certs" "$IDA" "$IDB"
APP=$(free_port)
backend_start "$APP" "$OUT" # bench/backend.sh
PIDS+=($!)
for _ in $(seq 1 1000); do (echo > /dev/tcp/127.0.0.1/"$APP") 2>/dev/null && break; sleep 0.01; done

# proxy NAME JAR ADMIN INBOUND OUTBOUND IDENTITY DESTINATIONS EXTRA_FLAGS
proxy() {
  local name=$1 jar=$2 adm=$3 in=$4 outp=$5 who=$6 dests=$7 extra=$8
  env -i PATH="$PATH" HYPHA_PROXY_MODE=explicit HYPHA_PROXY_INBOUND_LISTEN_ADDR=127.0.0.1:$in \
    HYPHA_PROXY_OUTBOUND_LISTEN_ADDR=127.0.0.1:$outp HYPHA_PROXY_ADMIN_LISTEN_ADDR=127.0.0.1:$adm \
    HYPHA_PROXY_TAP_LISTEN_ADDR=127.0.0.1:$(free_port) \
    HYPHA_PROXY_IDENTITY_CERT_FILE="$OUT/certs/$who.crt" HYPHA_PROXY_IDENTITY_KEY_FILE="$OUT/certs/$who.key" \
    HYPHA_PROXY_TRUST_ANCHORS_FILE="$OUT/certs/anchors.crt" HYPHA_PROXY_LOG_LEVEL=warn HYPHA_PROXY_SHUTDOWN_GRACE=1s \
    HYPHA_PROXY_DESTINATIONS="$dests" "$JAVA" "${PFLAGS[@]}" $extra --enable-native-access=ALL-UNNAMED \
    --sun-misc-unsafe-memory-access=allow -jar "$jar" > "$OUT/$name.log" 2>&1 &
}
declare -A OUTPORT PIN POUT
for side in A B; do
  if [ $side = A ]; then jar=$JAR_A; extra="${EXTRA_A:-}"; else jar=$JAR_B; extra="${EXTRA_B:-}"; fi
  IN=$(free_port); INADM=$(free_port); OP=$(free_port); OUTADM=$(free_port)
  proxy "in-$side" "$jar" "$INADM" "$IN" 0 server "" "$extra"; PIN[$side]=$!; PIDS+=($!); wait_ready "$INADM"
  proxy "out-$side" "$jar" "$OUTADM" 0 "$OP" client "svc.bench:$APP=127.0.0.1:$IN@$IDB" "$extra"
  POUT[$side]=$!; PIDS+=($!); wait_ready "$OUTADM"
  OUTPORT[$side]=$OP
done

# CPU ticks (user + system) of a proxy's event-loop threads
loop_ticks() {
  local sum=0 t n
  for t in /proc/"$1"/task/*; do
    n=$(cat "$t/comm" 2>/dev/null || true)
    case "$n" in hypha-proxy*) sum=$((sum + $(cpu_ticks "$1/task/${t##*/}"))) ;; esac
  done
  echo $sum
}
pair_ticks() { echo $(( $(loop_ticks "${POUT[$1]}") + $(loop_ticks "${PIN[$1]}") )); }
# CPU ticks of the whole processes (what bench/run.sh counts: the JIT compilers, GC and other threads too)
proc_ticks() { echo $(( $(cpu_ticks "${POUT[$1]}") + $(cpu_ticks "${PIN[$1]}") )); }
both() {
  local w=() side log=()
  for side in A B; do
    [ -n "${LOGS:-}" ] && log=(--log-file "$OUT/requests-$side.tsv")
    h2load "$@" "${log[@]}" -H ":authority: svc.bench:$APP" \
      "http://127.0.0.1:${OUTPORT[$side]}/bytes?bytes=1024" > "$OUT/h2load-$side.txt" & w+=($!)
  done
  wait "${w[@]}"
}
# percentile P (0..1) of the latencies (ms) of the successful requests in h2load's log (microseconds, column 3)
pct() {
  awk -F'\t' '$2 == 200 {print $3 / 1000}' "$2" | sort -g \
    | awk -v p="$1" '{v[NR] = $1} END {i = int(p * NR + 0.999999); if (i < 1) i = 1; printf "%.3f", v[i]}'
}
echo "warming up both pairs (maximum throughput, then the measured load shape)..."
both --h1 -c 32 -D 8
both --h1 -c 10 --rps 100 -D 15
ratios=(); pratios=(); l50=(); l99=()
for r in $(seq 1 "$ROUNDS"); do
  if [ "${SHIFT_SECS:-0}" -gt 0 ]; then
    # the load changes shape before each measured round, as between bench/run.sh's phases: HTTP/2 first
    both -c 10 --rps 100 -D "$SHIFT_SECS"
  fi
  a0=$(pair_ticks A); b0=$(pair_ticks B); pa0=$(proc_ticks A); pb0=$(proc_ticks B)
  LOGS=1 both --h1 -c 10 --rps 100 -D "$SECS"
  a1=$(pair_ticks A); b1=$(pair_ticks B); pa1=$(proc_ticks A); pb1=$(proc_ticks B)
  na=$(awk '/^requests:/ {print $8}' "$OUT/h2load-A.txt"); nb=$(awk '/^requests:/ {print $8}' "$OUT/h2load-B.txt")
  line=$(python3 -c "a=($a1-$a0)*10000/$na; b=($b1-$b0)*10000/$nb; print(f'{b/a:.3f} A {a:.1f} B {b:.1f}')")
  pline=$(python3 -c "a=($pa1-$pa0)*10000/$na; b=($pb1-$pb0)*10000/$nb; print(f'{b/a:.3f} A {a:.1f} B {b:.1f}')")
  ratios+=("${line%% *}"); pratios+=("${pline%% *}")
  echo "round $r: CPU ticks per 10 000 requests — event loops: pair A ${line#* A }, B/A ${line%% *}; whole processes: A ${pline#* A }, B/A ${pline%% *} (requests $na / $nb)"
  lat=""
  for p in 0.50 0.99; do
    la=$(pct $p "$OUT/requests-A.tsv"); lb=$(pct $p "$OUT/requests-B.tsv")
    q=$(python3 -c "print(f'{$lb/$la:.3f}' if $la > 0 else 'nan')")
    if [ $p = 0.50 ]; then l50+=("$q"); else l99+=("$q"); fi
    lat="$lat p${p#0.}: A $la B $lb ms, B/A $q;"
  done
  echo "         latency at the client —${lat%;}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "median B/A over $ROUNDS rounds: event loops $(median "${ratios[@]}"), whole processes" \
  "$(median "${pratios[@]}"), latency p50 $(median "${l50[@]}"), p99 $(median "${l99[@]}")"
rss() { awk '/^VmRSS|^RssAnon/ {printf "%s %.1f ", $1, $2/1024}' /proc/"$1"/status; }
for side in A B; do echo "pair $side after the rounds, MiB: outbound $(rss "${POUT[$side]}"); inbound $(rss "${PIN[$side]}")"; done
