#!/usr/bin/env bash
# The proxy benchmark: a client against a backend on loopback, three ways — direct, through a Hypha proxy pair with
# mTLS (outbound -> inbound), and through an haproxy pair with mTLS in the same topology (the peer) — for HTTP/1.1
# and HTTP/2 (h2c prior knowledge) with 1 KiB responses, at constant rates of 100, 1000 and 2000 requests/s and at
# maximum throughput. A fourth configuration is the floor of a JVM proxy: a pair of bare Netty TLS relays
# (TlsRelayFloor: epoll, BoringSSL mTLS, no HTTP) with the proxy's JVM flags. Every configuration is warmed up
# (maximum throughput and 1000 requests/s, WARMUP seconds) before it is measured: the JIT's compilation is then done. Reports added latency over direct (p50/p99/p99.9), max requests/s, CPU seconds per 1000
# requests per proxy process (and the Hypha/haproxy and floor/haproxy ratios of it again with two pairs loaded at the
# same moment, which the verdict uses),
# RSS/RssAnon idle, peak and after 60 s at 2000 requests/s, start-to-ready (Hypha
# certified by a local control plane), the native-memory breakdown of an idle proxy, and the budgets of the
# footprint issue. Medians of RUNS runs, every number from this one run, ratios against haproxy.
#
#   bench/run.sh [RUNS=3] [SECONDS=10]     writes the proxy section of bench/RESULTS.md (about 15 minutes)
#   bench/run.sh --smoke                   1 run of 1 s per measurement, prints only (CI runs this)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SMOKE=false
if [ "${1:-}" = "--smoke" ]; then SMOKE=true; RUNS=1; SECS=1; SOAK=2; WARMUP=1
else RUNS="${1:-3}"; SECS="${2:-10}"; SOAK=60; WARMUP="${WARMUP:-20}"; fi
OUT="$ROOT/bench/out"
rm -rf "$OUT"; mkdir -p "$OUT"

for tool in h2load haproxy curl python3; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nghttp2-client haproxy curl python3
    else echo "bench: need $tool (apt-get install nghttp2-client haproxy curl)" >&2; exit 1; fi
  fi
done
for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25*; do [ -x "$d/bin/java" ] && export JAVA_HOME="$d" && break; done
JAVA="$JAVA_HOME/bin/java"

if [ ! -f control/target/quarkus-app/quarkus-run.jar ] || [ ! -f micro-proxy/target/hypha-proxy.jar ] \
   || [ ! -d e2e/target/test-classes ] || [ ! -d micro-proxy/target/test-classes ]; then
  echo "building..."
  ./mvnw -B -q -ntp -DskipTests install >/dev/null
fi
source "$ROOT/bench/classpath.sh" # test_classpath
test_classpath micro-proxy "$OUT/proxy-test.classpath" || exit 1
test_classpath e2e "$OUT/e2e-test.classpath" || exit 1
TCP="$ROOT/micro-proxy/target/test-classes:$ROOT/micro-proxy/target/classes:$(cat "$OUT/proxy-test.classpath")"
ECP="$ROOT/e2e/target/test-classes:$(cat "$OUT/e2e-test.classpath")"

# The proxy's JVM flags are the injector's default (mesh value proxy-jvm-options), plus the AOT cache trained below.
PFLAGS=($(sed -n 's/^proxy-jvm-options=//p' src/main/resources/hypha/defaults.properties))
# Netty's native libraries load from where the build unpacked them, as the image loads them from /opt/hypha/native
PFLAGS+=(-Djava.library.path="$ROOT/micro-proxy/target/native/META-INF/native")
AOT="$OUT/hypha-proxy.aot"
JARGS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -jar micro-proxy/target/hypha-proxy.jar)

# a load generator that hangs (it happened with a server answering 400 and closing) must not hang the run
H2LOAD="$(command -v h2load)"
h2load() { timeout --kill-after=5 $((SECS + SOAK + WARMUP + 60)) "$H2LOAD" "$@"; }
# a port for a listener named before it starts: below the kernel's ephemeral range, free now, not handed out before
# in this run (bench/free_port.py)
free_port() { python3 "$ROOT/bench/free_port.py" "$OUT/ports.given"; }
status_kib() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
source "$ROOT/bench/proc.sh" # cpu_ticks
source "$ROOT/bench/backend.sh" # backend_start
# Waiting for a process that is starting must not slow its start: every 10 ms, and no process started per try (one
# curl costs this machine ~30 ms of CPU, a sleep or a subshell 4-7 ms; polled with curl, start-up measured up to
# ~0.6 s slower). fd 9 is a FIFO that nobody writes, so a read from it with a timeout is a sleep inside bash.
mkfifo "$OUT/.tick"; exec 9<>"$OUT/.tick"
tick() { read -r -t 0.01 -u 9 _ || true; }
tcp_open() { { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; } # PORT: connected as fd 3
port_open() { tcp_open "$1" || return 1; exec 3>&-; }
ready_200() { # ADMIN_PORT: GET /ready answers 200
  local status=""
  tcp_open "$1" || return 1
  printf 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  read -r -t 2 status <&3 || true
  exec 3>&-
  [[ $status == "HTTP/1.1 200"* ]]
}
wait_port() { local i; for ((i = 0; i < 3000; i++)); do port_open "$1" && return 0; tick; done; echo "port $1 never opened" >&2; exit 1; }
wait_ready() { # ADMIN_PORT PID NAME: until the proxy NAME answers /ready; if it exits or takes 30 s, its log says why
  local i
  for ((i = 0; i < 3000; i++)); do
    ready_200 "$1" && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      echo "bench: proxy $3 exited before it was ready; bench/out/$3.log:" >&2; tail -20 "$OUT/$3.log" >&2; exit 1
    fi
    tick
  done
  echo "bench: proxy $3 (admin port $1) not ready after 30 s; bench/out/$3.log:" >&2; tail -20 "$OUT/$3.log" >&2
  exit 1
}

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

IDA=client.bench.serviceaccount.identity.cluster.local
IDB=server.bench.serviceaccount.identity.cluster.local
"$JAVA" -cp "$TCP" dev.hypha.proxy.testing.IssueCerts "$OUT/certs" "$IDA" "$IDB"
cat "$OUT/certs/client.crt" "$OUT/certs/client.key" > "$OUT/certs/client.pem"
cat "$OUT/certs/server.crt" "$OUT/certs/server.key" > "$OUT/certs/server.pem"

APP=$(free_port)
backend_start "$APP" "$OUT" # bench/backend.sh
PIDS+=($!)
wait_port "$APP"
PATH_1K="/bytes?bytes=1024"

# hypha_proxy NAME ADMIN INBOUND OUTBOUND TAP IDENTITY(client|server) [DESTINATIONS] [extra JVM flags...]
# HYPHA_DIAG_FLAGS: JVM flags for diagnosis added to the Hypha proxies started here (the measured pair, the idle one
# for NMT; not the AOT training or StartupBench), e.g. the wall-clock JVM logs that bench/tail.py reads
# (bench/README.md); RESULTS.md names them
read -r -a DIAG <<< "${HYPHA_DIAG_FLAGS:-}"
hypha_proxy() {
  local name=$1 adm=$2 in=$3 outp=$4 tap=$5 who=$6 dests=$7; shift 7
  env -i PATH="$PATH" HYPHA_PROXY_MODE=explicit HYPHA_PROXY_INBOUND_LISTEN_ADDR=127.0.0.1:$in \
    HYPHA_PROXY_OUTBOUND_LISTEN_ADDR=127.0.0.1:$outp HYPHA_PROXY_ADMIN_LISTEN_ADDR=127.0.0.1:$adm \
    HYPHA_PROXY_TAP_LISTEN_ADDR=127.0.0.1:$tap \
    HYPHA_PROXY_IDENTITY_CERT_FILE="$OUT/certs/$who.crt" HYPHA_PROXY_IDENTITY_KEY_FILE="$OUT/certs/$who.key" \
    HYPHA_PROXY_TRUST_ANCHORS_FILE="$OUT/certs/anchors.crt" HYPHA_PROXY_LOG_LEVEL=warn HYPHA_PROXY_SHUTDOWN_GRACE=1s \
    HYPHA_PROXY_DESTINATIONS="$dests" "$JAVA" "${PFLAGS[@]}" "${DIAG[@]}" "$@" "${JARGS[@]}" > "$OUT/$name.log" 2>&1 &
}

# --- AOT cache, trained on this build by the image's own training script (micro-proxy/docker/train-aot): one proxy,
# certified by a local control plane, whose outbound side sends to its own inbound side, so one process runs both
# directions over mTLS. The cache holds classes, not method profiles (replayed profiles cost CPU per request after
# warm-up).
echo "training the AOT cache (micro-proxy/docker/train-aot)..."
JAVA="$JAVA" HYPHA_JAR=micro-proxy/target/hypha-proxy.jar HYPHA_NATIVE="$ROOT/micro-proxy/target/native/META-INF/native" \
  HYPHA_CONTROL_JAR="$ROOT/control/target/quarkus-app/quarkus-run.jar" \
  HYPHA_TRAIN_PORTS="$(free_port) $(free_port) $(free_port) $(free_port) $(free_port) $(free_port)" \
  HYPHA_TRAIN_LOG="$OUT/train.log" \
  micro-proxy/docker/train-aot "$AOT" "${PFLAGS[@]}" > "$OUT/train.txt" 2>&1 || { cat "$OUT/train.txt" >&2; exit 1; }
PFLAGS+=(-XX:AOTCache="$AOT")

# --- the Hypha pair
# every port is chosen before the clock starts (free_port runs python, ~0.35 s of this machine's CPU)
IN=$(free_port); INADM=$(free_port); INTAP=$(free_port); OUTP=$(free_port); OUTADM=$(free_port); OUTTAP=$(free_port)
start_us=${EPOCHREALTIME/./}
hypha_proxy hypha-in "$INADM" "$IN" 0 "$INTAP" server ""
PIN=$!; PIDS+=($PIN)
wait_ready "$INADM" "$PIN" hypha-in
file_ready_ms=$(( (${EPOCHREALTIME/./} - start_us) / 1000 ))
hypha_proxy hypha-out "$OUTADM" 0 "$OUTP" "$OUTTAP" client "svc.bench:$APP=127.0.0.1:$IN@$IDB"
POUT=$!; PIDS+=($POUT)
wait_ready "$OUTADM" "$POUT" hypha-out

# --- the haproxy pair: same topology, TLS 1.3 mTLS with the same certificates, HTTP/2 between the proxies, one
# thread each (the Hypha proxies run one event loop)
HIN=$(free_port); HOUT=$(free_port)
haproxy_common() {
  cat <<CFG
global
  nbthread 1
  ssl-server-verify required
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
CFG
}
{ haproxy_common; cat <<CFG
frontend mesh_in
  bind 127.0.0.1:$HIN ssl crt $OUT/certs/server.pem ca-file $OUT/certs/anchors.crt verify required alpn h2,http/1.1 ssl-min-ver TLSv1.3
  default_backend app
backend app
  server app 127.0.0.1:$APP
CFG
} > "$OUT/haproxy-in.cfg"
{ haproxy_common; cat <<CFG
frontend app_out
  bind 127.0.0.1:$HOUT
  # HTTP/2 between the proxies carries no reason phrase, and h2load counts "HTTP/1.1 200 " (empty reason, which is
  # valid) as a failure; Hypha writes "200 OK", so haproxy does too
  http-response set-status 200 reason OK if { status 200 }
  default_backend mesh
backend mesh
  server in 127.0.0.1:$HIN ssl crt $OUT/certs/client.pem ca-file $OUT/certs/anchors.crt verify required verifyhost $IDB sni str($IDB) alpn h2 ssl-min-ver TLSv1.3
CFG
} > "$OUT/haproxy-out.cfg"
hstart_us=${EPOCHREALTIME/./}
haproxy -db -f "$OUT/haproxy-in.cfg" > "$OUT/haproxy-in.log" 2>&1 &
HPIN=$!; PIDS+=($HPIN)
wait_port "$HIN"
haproxy_ready_ms=$(( (${EPOCHREALTIME/./} - hstart_us) / 1000 ))
haproxy -db -f "$OUT/haproxy-out.cfg" > "$OUT/haproxy-out.log" 2>&1 &
HPOUT=$!; PIDS+=($HPOUT)
wait_port "$HOUT"

# --- the floor: two bare Netty TLS relays (TlsRelayFloor) in the same topology with the proxy's JVM flags, each with
# an AOT cache of its own, leak detection off as in the proxy
FLFLAGS=()
for f in "${PFLAGS[@]}"; do case $f in -XX:AOTCache=*) ;; *) FLFLAGS+=("$f") ;; esac; done
FLFLAGS+=(-Dio.netty.leakDetection.level=disabled --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow)
# an AOT cache wants jars on its class path, not directories
(cd micro-proxy/target/test-classes && "$JAVA_HOME/bin/jar" cf "$OUT/floor.jar" dev/hypha/proxy/testing/TlsRelayFloor*.class)
FLCP="$OUT/floor.jar:$(ls "$ROOT"/micro-proxy/target/lib/*.jar | tr '\n' ':')"
floor() { # floor in|out LISTEN TARGET [JVM flags...]
  local side=$1 listen=$2 target=$3 who; shift 3
  who=$([ "$side" = in ] && echo server || echo client)
  "$JAVA" "${FLFLAGS[@]}" "$@" -cp "$FLCP" dev.hypha.proxy.testing.TlsRelayFloor "$side" "$listen" "$target" \
    "$OUT/certs/$who.crt" "$OUT/certs/$who.key" "$OUT/certs/anchors.crt" >> "$OUT/floor-$side.log" 2>&1 &
}
# each relay gets an AOT cache trained like the proxy's (the proxy's own cache is for its own classes): classes, no
# method profiles (train-aot says why)
echo "training the floor's AOT caches..."
NOPROF=(-XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining)
FIN=$(free_port); FOUT=$(free_port)
floor in "$FIN" "$APP" -XX:AOTCacheOutput="$OUT/floor-in.aot" "${NOPROF[@]}"; TFI=$!; wait_port "$FIN"
floor out "$FOUT" "$FIN" -XX:AOTCacheOutput="$OUT/floor-out.aot" "${NOPROF[@]}"; TFO=$!; wait_port "$FOUT"
h2load --h1 -n 3000 -c 4 "http://127.0.0.1:$FOUT$PATH_1K" > "$OUT/train-floor-h1.txt"
h2load -n 3000 -c 4 -m 8 "http://127.0.0.1:$FOUT$PATH_1K" > "$OUT/train-floor-h2.txt"
kill "$TFO" "$TFI"; wait "$TFO" "$TFI" || true
[ -s "$OUT/floor-in.aot" ] && [ -s "$OUT/floor-out.aot" ] || { echo "floor AOT caches not written" >&2; cat "$OUT"/floor-*.log; exit 1; }
FIN=$(free_port); FOUT=$(free_port)
fstart_us=${EPOCHREALTIME/./}
floor in "$FIN" "$APP" -XX:AOTCache="$OUT/floor-in.aot"; FPIN=$!; PIDS+=($FPIN)
wait_port "$FIN"
floor_ready_ms=$(( (${EPOCHREALTIME/./} - fstart_us) / 1000 ))
floor out "$FOUT" "$FIN" -XX:AOTCache="$OUT/floor-out.aot"; FPOUT=$!; PIDS+=($FPOUT)
wait_port "$FOUT"

# idle means settled: the JVM returns its compiler arenas and trims the C heap some seconds after start-up
# (measured: ~20 MiB less after 12 s than after 3 s)
sleep 15
declare -A IDLE_RSS IDLE_ANON PEAK_RSS PEAK_ANON
for n in PIN POUT HPIN HPOUT FPIN FPOUT; do
  IDLE_RSS[$n]=$(status_kib "${!n}" VmRSS); IDLE_ANON[$n]=$(status_kib "${!n}" RssAnon)
  PEAK_RSS[$n]=${IDLE_RSS[$n]}; PEAK_ANON[$n]=${IDLE_ANON[$n]}
done
sample_peaks() {
  for n in PIN POUT HPIN HPOUT FPIN FPOUT; do
    local r a; r=$(status_kib "${!n}" VmRSS); a=$(status_kib "${!n}" RssAnon)
    if [ "$r" -gt "${PEAK_RSS[$n]}" ]; then PEAK_RSS[$n]=$r; fi
    if [ "$a" -gt "${PEAK_ANON[$n]}" ]; then PEAK_ANON[$n]=$a; fi
  done
  return 0
}

declare -A TARGET HOSTH
TARGET[direct]="http://127.0.0.1:$APP$PATH_1K";      HOSTH[direct]="127.0.0.1:$APP"
TARGET[hypha]="http://127.0.0.1:$OUTP$PATH_1K";      HOSTH[hypha]="svc.bench:$APP"
TARGET[haproxy]="http://127.0.0.1:$HOUT$PATH_1K";    HOSTH[haproxy]="svc.bench:$APP"
TARGET[floor]="http://127.0.0.1:$FOUT$PATH_1K";      HOSTH[floor]="svc.bench:$APP"
for c in direct hypha haproxy floor; do
  curl -sf -o /dev/null -H "Host: ${HOSTH[$c]}" "${TARGET[$c]}" || { echo "$c does not answer" >&2; tail "$OUT"/*.log; exit 1; }
done

# fixed CONFIG PROTO RATE RUN: constant rate, per-request latencies in a log
fixed() {
  local c=$1 proto=$2 rate=$3 run=$4 clients=10 f
  if [ "$rate" -lt 100 ]; then clients=1; fi
  f="$OUT/$c-$proto-$rate-$run"
  if [ "$proto" = h1 ]; then
    h2load --h1 -c "$clients" --rps $((rate / clients)) -D "$SECS" -H ":authority: ${HOSTH[$c]}" --log-file "$f.tsv" "${TARGET[$c]}" > "$f.txt"
  else
    h2load -c "$clients" -m 4 --rps $((rate / clients)) -D "$SECS" -H ":authority: ${HOSTH[$c]}" --log-file "$f.tsv" "${TARGET[$c]}" > "$f.txt"
  fi
}
maxrps() {
  local c=$1 proto=$2 run=$3 f
  f="$OUT/$c-$proto-max-$run"
  if [ "$proto" = h1 ]; then
    h2load --h1 -c 32 -D "$SECS" -H ":authority: ${HOSTH[$c]}" "${TARGET[$c]}" > "$f.txt"
  else
    h2load -c 8 -m 16 -D "$SECS" -H ":authority: ${HOSTH[$c]}" "${TARGET[$c]}" > "$f.txt"
  fi
}
declare -A CPU0
# CPU of a JVM's JIT compiler threads (in a process without them, 0): part of the process's CPU, shown beside it
jit_ticks() {
  local t s=0 v
  for t in /proc/"$1"/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in
      "C1 CompilerThre"*|"C2 CompilerThre"*) v=$(cpu_ticks "$1/task/${t##*/}") && s=$((s + ${v:-0})) ;;
    esac
  done
  echo "$s"
}
declare -A JIT0
cpu_mark() { for n in PIN POUT HPIN HPOUT FPIN FPOUT; do CPU0[$n]=$(cpu_ticks "${!n}"); JIT0[$n]=$(jit_ticks "${!n}"); done; }
declare -A CPU1000 JIT1000
for n in PIN POUT HPIN HPOUT FPIN FPOUT; do CPU1000[$n]=0; JIT1000[$n]=0; done
ticks_since() { # NAME...: the CPU ticks those processes used since cpu_mark, summed
  local n s=0
  for n in "$@"; do s=$((s + $(cpu_ticks "${!n}") - ${CPU0[$n]})); done
  echo "$s"
}
cpu_add() { # NAME...: adds the CPU since cpu_mark to the 1000 requests/s totals
  local n
  for n in "$@"; do
    CPU1000[$n]=$(( ${CPU1000[$n]} + $(ticks_since "$n") ))
    JIT1000[$n]=$(( ${JIT1000[$n]} + $(jit_ticks "${!n}") - ${JIT0[$n]} ))
  done
}
REQ1000=0

# warm-up: a JVM compiles its hot code during the first tens of seconds of load (and again after the load changes
# shape), which a long-running sidecar pays once; every configuration gets the same load before it is measured
for c in hypha haproxy floor; do
  echo "warm-up: $c (${WARMUP}s each: HTTP/1.1 and HTTP/2 at maximum throughput, HTTP/1.1 at 1000 requests/s)"
  h2load --h1 -c 32 -D "$WARMUP" -H ":authority: ${HOSTH[$c]}" "${TARGET[$c]}" > "$OUT/$c-warm-h1.txt"
  h2load -c 8 -m 16 -D "$WARMUP" -H ":authority: ${HOSTH[$c]}" "${TARGET[$c]}" > "$OUT/$c-warm-h2.txt"
  h2load --h1 -c 10 --rps 100 -D "$WARMUP" -H ":authority: ${HOSTH[$c]}" "${TARGET[$c]}" > "$OUT/$c-warm-1000.txt"
done

for run in $(seq 1 "$RUNS"); do
  for c in direct hypha haproxy floor; do
    echo "run $run/$RUNS: $c"
    for rate in 100 1000 2000; do
      for proto in h1 h2; do
        if [ "$rate" = 1000 ] && [ "$proto" = h1 ]; then cpu_mark; fi
        fixed "$c" "$proto" "$rate" "$run"
        if [ "$rate" = 1000 ] && [ "$proto" = h1 ]; then
          case $c in
            hypha) cpu_add PIN POUT
                   REQ1000=$((REQ1000 + 1000 * SECS)) ;;
            haproxy) cpu_add HPIN HPOUT ;;
            floor) cpu_add FPIN FPOUT ;;
          esac
        fi
        sample_peaks
      done
    done
    maxrps "$c" h1 "$run"; sample_peaks
    maxrps "$c" h2 "$run"; sample_peaks
  done
done

# The CPU line's ratio again, with the Hypha and haproxy pairs loaded at the same moment (HTTP/1.1 at 1000 requests/s
# each, $RUNS rounds): measured in windows minutes apart, as above, the machine's drift moves the ratio (haproxy's own
# cost ranged over 0.083-0.117 s per 1000 requests between full runs); loaded together, the drift hits both alike. The
# budget's verdict uses this figure. Each round then loads the floor and haproxy together the same way: the floor's
# ratio is the control of the method (two pairs sharing the cores must not flatter a JVM pair).
echo "CPU of two pairs loaded at once: Hypha with haproxy, the floor with haproxy ($RUNS rounds)"
SAME=(); SAMEF=()
same_round() { # PAIR RUN: PAIR and haproxy at 1000 requests/s each for SECS; prints PAIR's CPU over haproxy's
  local pair=$1 run=$2 c p
  local -a spids=()
  cpu_mark
  for c in "$pair" haproxy; do
    h2load --h1 -c 10 --rps 100 -D "$SECS" -H ":authority: ${HOSTH[$c]}" --log-file "$OUT/same-$pair-$c-$run.tsv" \
      "${TARGET[$c]}" > "$OUT/same-$pair-$c-$run.txt" &
    spids+=($!)
  done
  wait "${spids[@]}"
  case $pair in hypha) p=$(ticks_since PIN POUT) ;; floor) p=$(ticks_since FPIN FPOUT) ;; esac
  awk -v a="$p" -v b="$(ticks_since HPIN HPOUT)" 'BEGIN {printf "%.3f", a / (b > 0 ? b : 1)}'
}
for run in $(seq 1 "$RUNS"); do
  SAME+=("$(same_round hypha "$run")"); sample_peaks
  SAMEF+=("$(same_round floor "$run")"); sample_peaks
done

echo "soak: ${SOAK}s at 2000 requests/s through each pair"
for c in hypha haproxy floor; do
  h2load --h1 -c 10 --rps 200 -D "$SOAK" -H ":authority: ${HOSTH[$c]}" "${TARGET[$c]}" > "$OUT/$c-soak.txt" &
done
for _ in $(seq 1 "$SOAK"); do sleep 1; sample_peaks; done
sleep 2
declare -A SOAK_RSS SOAK_ANON
for n in PIN POUT HPIN HPOUT FPIN FPOUT; do SOAK_RSS[$n]=$(status_kib "${!n}" VmRSS); SOAK_ANON[$n]=$(status_kib "${!n}" RssAnon); done

echo "start to ready with a control plane..."
if ! STARTUP=$("$JAVA" -Djava.util.logging.config.file="$ROOT/e2e/src/test/resources/logging.properties" \
  -Dhypha.root="$ROOT" -Dhypha.bench.runs=$($SMOKE && echo 1 || echo 5) \
  -Dhypha.bench.proxy.flags="${PFLAGS[*]}" -cp "$ECP" dev.hypha.e2e.StartupBench 2>"$OUT/startup.err"); then
  # a failed start-up measurement must not throw away the rest of the run: say so, keep going
  echo "start-up measurement failed (bench/out/startup.err):" >&2
  tail -20 "$OUT/startup.err" >&2
  $SMOKE && exit 1
  STARTUP="| start to ready, certified by a local control plane | failed: see bench/out/startup.err |"
fi

echo "native memory of an idle proxy..."
NA=$(free_port)
hypha_proxy nmt "$NA" 0 0 "$(free_port)" server "" -XX:NativeMemoryTracking=summary
NPID=$!; PIDS+=($NPID)
wait_ready "$NA" "$NPID" nmt; sleep 15
"$JAVA_HOME/bin/jcmd" "$NPID" VM.native_memory summary > "$OUT/nmt.txt"
NMT_RSS=$(status_kib "$NPID" VmRSS); NMT_ANON=$(status_kib "$NPID" RssAnon); NMT_FILE=$(status_kib "$NPID" RssFile)
kill "$NPID"
cat > "$OUT/Idle.java" <<'JAVA'
public class Idle { public static void main(String[] a) throws Exception { Thread.sleep(3000); } }
JAVA
"$JAVA_HOME/bin/javac" -d "$OUT" "$OUT/Idle.java"
IFLAGS=()
for f in "${PFLAGS[@]}"; do case $f in -XX:AOTCache=*) ;; *) IFLAGS+=("$f") ;; esac; done
"$JAVA" "${IFLAGS[@]}" -cp "$OUT" Idle > "$OUT/idle.log" 2>&1 &
IPID=$!; sleep 2.5
FLOOR_RSS=$(status_kib "$IPID" VmRSS); FLOOR_ANON=$(status_kib "$IPID" RssAnon); wait "$IPID" || true

# ---------------------------------------------------------------- report
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
pct() { awk -F'\t' '$2==200 {print $3/1000}' "$2" | sort -g | awk -v p="$1" '{a[NR]=$1} END {i=int(p*NR+0.999999); if (i<1) i=1; print a[i]}'; }
errs() { awk -F'\t' '$2!=200' "$1" | wc -l; }
h2_rps() { awk '/^finished in/ {gsub(",","",$4); print $4}' "$1"; }
lat() { local c=$1 proto=$2 rate=$3 p=$4; for r in $(seq 1 "$RUNS"); do pct "$p" "$OUT/$c-$proto-$rate-$r.tsv"; done | median; }
mx() { local c=$1 proto=$2; for r in $(seq 1 "$RUNS"); do h2_rps "$OUT/$c-$proto-max-$r.txt"; done | median; }
calc() { awk "BEGIN {v=$1; printf \"%.3f\", v}"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
TICK=$(getconf CLK_TCK)
ERRORS=0
for f in "$OUT"/*.tsv; do ERRORS=$((ERRORS + $(errs "$f"))); done

LATROWS=""
declare -A ADD
for proto in h1 h2; do
  for rate in 100 1000 2000; do
    for p in 0.50 0.99 0.999; do
      d=$(lat direct $proto $rate $p); h=$(lat hypha $proto $rate $p); x=$(lat haproxy $proto $rate $p)
      fl=$(lat floor $proto $rate $p)
      ah=$(calc "$h-$d"); ax=$(calc "$x-$d"); af=$(calc "$fl-$d")
      ADD[$proto-$rate-$p-hypha]=$ah; ADD[$proto-$rate-$p-haproxy]=$ax; ADD[$proto-$rate-$p-floor]=$af
      ratio=$(awk "BEGIN {if (($x-$d) > 0.01) printf \"%.2f\", ($h-$d)/($x-$d); else print \"n/a\"}")
      LATROWS+="| $([ $proto = h1 ] && echo HTTP/1.1 || echo HTTP/2) | $rate | p${p#0.} | $d | $ah | $ax | $af | $ratio |"$'\n'
    done
  done
done
LATROWS=$(echo "$LATROWS" | sed 's/| p50 |/| p50 |/; s/| p99 |/| p99 |/; s/| p999 |/| p99.9 |/')

# the p99 line's raw material (bench/tail.py): h2load sends its 10 connections' requests at one tick, so a constant-rate
# log is a series of bursts of ten, and a burst takes as long as its slowest request; per configuration, the bursts'
# p50 / p90 / p99 in each run (HTTP/1.1 at 1000 requests/s), medians of the runs
BURSTROWS=""
for c in direct hypha haproxy floor; do
  # a failure here must not throw away the run's measurements: the row says so, and the error goes to the terminal
  if ! B=$(python3 "$ROOT/bench/tail.py" "$OUT/$c"-h1-1000-*.tsv); then
    echo "bench: bench/tail.py failed on bench/out/$c-h1-1000-*.tsv (above); its row in RESULTS.md says so" >&2
    BURSTROWS+="| $c | bench/tail.py failed on its logs | | |"$'\n'
    continue
  fi
  BP=$(echo "$B" | awk '/^  bursts:/ {gsub(/[,;]/, " "); print $3, $6, $8}')
  BURSTROWS+="| $c | $(echo "$BP" | cut -d' ' -f1 | median) | $(echo "$BP" | cut -d' ' -f2 | median) | $(echo "$BP" | cut -d' ' -f3 | median) |"$'\n'
done

MAXROWS=""
for proto in h1 h2; do
  d=$(mx direct $proto); h=$(mx hypha $proto); x=$(mx haproxy $proto); fl=$(mx floor $proto)
  MAXROWS+="| $([ $proto = h1 ] && echo 'HTTP/1.1 (32 connections)' || echo 'HTTP/2 (8 connections x 16 streams)') | $d | $h | $x | $fl | $(calc "$h/$d") | $(calc "$x/$d") | $(calc "$fl/$d") | $(calc "$h/$x") |"$'\n'
  if [ $proto = h1 ]; then H1MAXRATIO=$(calc "$h/$d"); H1MAXHAPROXY=$(calc "$x/$d"); H1MAXFLOOR=$(calc "$fl/$d"); fi
done

cpu_per_k() { calc "${CPU1000[$1]}/$TICK/($REQ1000/1000)"; }
jit_per_k() { calc "${JIT1000[$1]}/$TICK/($REQ1000/1000)"; }
CPU_H_OUT=$(cpu_per_k POUT); CPU_H_IN=$(cpu_per_k PIN); CPU_X_OUT=$(cpu_per_k HPOUT); CPU_X_IN=$(cpu_per_k HPIN)
CPU_F_OUT=$(cpu_per_k FPOUT); CPU_F_IN=$(cpu_per_k FPIN)
CPU_RATIO=$(calc "($CPU_H_OUT+$CPU_H_IN)/(($CPU_X_OUT+$CPU_X_IN)>0.0001?($CPU_X_OUT+$CPU_X_IN):0.0001)")
CPU_FLOOR_RATIO=$(calc "($CPU_F_OUT+$CPU_F_IN)/(($CPU_X_OUT+$CPU_X_IN)>0.0001?($CPU_X_OUT+$CPU_X_IN):0.0001)")
SAME_RATIO=$(printf '%s\n' "${SAME[@]}" | median); SAMEF_RATIO=$(printf '%s\n' "${SAMEF[@]}" | median)

verdict() { awk "BEGIN {exit !($1)}" && echo met || echo "**not met**"; }
IDLE_MAX=$(( IDLE_RSS[PIN] > IDLE_RSS[POUT] ? IDLE_RSS[PIN] : IDLE_RSS[POUT] ))
SOAK_MAX=$(( SOAK_RSS[PIN] > SOAK_RSS[POUT] ? SOAK_RSS[PIN] : SOAK_RSS[POUT] ))
FIDLE_MAX=$(( IDLE_RSS[FPIN] > IDLE_RSS[FPOUT] ? IDLE_RSS[FPIN] : IDLE_RSS[FPOUT] ))
FSOAK_MAX=$(( SOAK_RSS[FPIN] > SOAK_RSS[FPOUT] ? SOAK_RSS[FPIN] : SOAK_RSS[FPOUT] ))
READY_MS=$(echo "$STARTUP" | awk -F'|' '/start to ready/ {gsub(/[^0-9]/,"",$3); print $3}')
B1=$(verdict "$IDLE_MAX/1024 <= 40"); B2=$(verdict "$SOAK_MAX/1024 <= 56")
B3=$(verdict "${ADD[h1-1000-0.50-hypha]} <= 0.3"); B4=$(verdict "${ADD[h1-1000-0.99-hypha]} <= 1 && ${ADD[h1-1000-0.99-hypha]} <= ${ADD[h1-1000-0.99-haproxy]}")
B5=$(verdict "$SAME_RATIO <= 1.5"); B6=$(verdict "$H1MAXRATIO >= 0.5"); B7=$(verdict "${READY_MS:-99999} <= 300")
# the same lines for the floor: where it misses one too, the line is out of reach on this stack and machine
F1=$(verdict "$FIDLE_MAX/1024 <= 40"); F2=$(verdict "$FSOAK_MAX/1024 <= 56")
F3=$(verdict "${ADD[h1-1000-0.50-floor]} <= 0.3"); F4=$(verdict "${ADD[h1-1000-0.99-floor]} <= 1 && ${ADD[h1-1000-0.99-floor]} <= ${ADD[h1-1000-0.99-haproxy]}")
F5=$(verdict "$SAMEF_RATIO <= 1.5"); F6=$(verdict "$H1MAXFLOOR >= 0.5"); F7=$(verdict "${floor_ready_ms:-99999} <= 300")

NMTROWS=$(awk '/^-/ {name=$0; sub(/^- */,"",name); sub(/ *\(.*/,"",name); if (match($0,/committed=[0-9]+KB/)) {v=substr($0,RSTART+10,RLENGTH-12); printf "| %s | %.1f |\n", name, v/1024}}' "$OUT/nmt.txt")
NMTTOTAL=$(awk '/^Total:/ {if (match($0,/committed=[0-9]+KB/)) printf "%.1f", substr($0,RSTART+10,RLENGTH-12)/1024}' "$OUT/nmt.txt")

SHOWFLAGS="${PFLAGS[*]}"; SHOWFLAGS=${SHOWFLAGS//$ROOT\//}
DIAGSHOW=""; if [ ${#DIAG[@]} -gt 0 ]; then DIAGSHOW="; for diagnosis, not the injector's: \`${DIAG[*]}\`"; fi
cat > "$OUT/section.md" <<MD
## Proxy: direct vs a Hypha pair vs an haproxy pair vs the JVM's floor (\`bench/run.sh\`)

Made by \`bench/run.sh $RUNS $SECS\` on $(date -u +%Y-%m-%d) — $(nproc) cores, $("$JAVA" -version 2>&1 | head -1),
$(haproxy -v | head -1 | cut -d' ' -f1-3). Hypha proxy flags (the injector's default \`proxy-jvm-options\` plus the AOT
cache trained on this build by the image's training script \`micro-proxy/docker/train-aot\` — classes, no method
profiles — and Netty's native
libraries from the build as the image has them):
\`$SHOWFLAGS\`$DIAGSHOW; one event loop, BoringSSL. haproxy: one thread
(\`nbthread 1\`). Both pairs: TLS 1.3 mTLS with the same ECDSA certificates, HTTP/2 between the proxies; to the
app HTTP/1.1 (haproxy for both protocols, Hypha for HTTP/1.1 clients) or h2c (Hypha for HTTP/2 clients, as in pods).
Backend: haproxy answering from memory (\`bench/backend.sh\`: one thread, 1 KiB responses with content-type,
content-length, date and cache-control; HTTP/1.1 and h2c on one port). Client: \`h2load\` (\`--h1\` for HTTP/1.1,
h2c prior knowledge for HTTP/2), constant rate with \`--rps\` over 10 connections, latency of every request from
\`--log-file\`. Client, backend and both proxies share the same $(nproc) cores. Medians of $RUNS runs of ${SECS} s; non-200
answers over the whole run: $ERRORS. Every pair was warmed up first (${WARMUP} s each of HTTP/1.1 and HTTP/2 at maximum
throughput and of HTTP/1.1 at 1000 requests/s), so these are a long-running sidecar's figures; start-up is measured
separately below.

**The floor** is a pair of bare Netty TLS relays (\`TlsRelayFloor\` in the proxy's test code: one epoll event loop,
BoringSSL TLS 1.3 with client certificates, a flush per read, no HTTP, no routing, no metrics) in the same topology
with the proxy's JVM flags: what any proxy built on this JVM, Netty and BoringSSL costs before it does work of its
own. It relays each client connection on its own TLS connection (no HTTP/2 between the relays).

### Added latency over direct (ms)

| protocol | requests/s | percentile | direct | + Hypha pair | + haproxy pair | + floor pair | Hypha / haproxy |
|---|---|---|---|---|---|---|---|
$LATROWS

### Maximum throughput (requests/s)

| | direct | Hypha pair | haproxy pair | floor pair | Hypha / direct | haproxy / direct | floor / direct | Hypha / haproxy |
|---|---|---|---|---|---|---|---|---|
$MAXROWS

### Cost per proxy process

| | Hypha outbound | Hypha inbound | haproxy outbound | haproxy inbound | floor outbound | floor inbound |
|---|---|---|---|---|---|---|
| CPU seconds per 1000 requests (HTTP/1.1 at 1000 requests/s) | $CPU_H_OUT | $CPU_H_IN | $CPU_X_OUT | $CPU_X_IN | $CPU_F_OUT | $CPU_F_IN |
| … of which the JIT compiler's threads | $(jit_per_k POUT) | $(jit_per_k PIN) | $(jit_per_k HPOUT) | $(jit_per_k HPIN) | $(jit_per_k FPOUT) | $(jit_per_k FPIN) |
$(for row in "RSS idle 15 s after start, credentials loaded:IDLE_RSS" "RssAnon idle:IDLE_ANON" \
  "RSS peak over the whole run:PEAK_RSS" "RssAnon peak over the whole run:PEAK_ANON" \
  "RSS after ${SOAK} s at 2000 requests/s:SOAK_RSS" "RssAnon after ${SOAK} s at 2000 requests/s:SOAK_ANON"; do
  label=${row%%:*}; arr=${row##*:}; line="| $label (MiB) |"
  for n in POUT PIN HPOUT HPIN FPOUT FPIN; do v="$arr[$n]"; line+=" $(mib ${!v}) |"; done; echo "$line"; done)

The CPU line's ratio with two pairs loaded at the same moment (HTTP/1.1, 1000 requests/s each, $RUNS rounds of
${SECS} s, whole processes; the budget's verdict uses it): the Hypha pair's CPU over the haproxy pair's ${SAME[*]} —
median **$SAME_RATIO ×** (in the sequential windows above: $CPU_RATIO ×); the floor pair's over haproxy's, loaded
together the same way, ${SAMEF[*]} — median $SAMEF_RATIO × (sequential: $CPU_FLOOR_RATIO ×). Measured in windows
minutes apart, the machine's drift between them moves the ratio (haproxy's own cost per 1000 requests has ranged over
0.083–0.117 s between full runs); loaded at once, both pairs meet the same machine.

Start to ready: Hypha inbound proxy with credentials from files ${file_ready_ms} ms (exec to \`/ready\` 200); haproxy
${haproxy_ready_ms} ms (exec to listening); the floor's inbound relay ${floor_ready_ms} ms (exec to listening, certificate
loaded); each polled every 10 ms from bash, without starting a process per try. With a control plane (\`StartupBench\`:
the proxy certified by a local control plane, \`/ready\` polled every 10 ms; the CPU time is the proxy's, all threads,
when it was found ready):

| start-up with a control plane | value |
|---|---|
$STARTUP

### Budgets (footprint issue), this run

| budget | Hypha | verdict | the floor (bare Netty TLS relays, same JVM flags) | the floor's verdict |
|---|---|---|---|---|
| proxy RSS idle with mTLS credentials ≤ 40 MiB | $(mib $IDLE_MAX) MiB | $B1 | $(mib $FIDLE_MAX) MiB | $F1 |
| proxy RSS after 60 s at 2000 requests/s ≤ 56 MiB | $(mib $SOAK_MAX) MiB (after ${SOAK} s) | $B2 | $(mib $FSOAK_MAX) MiB | $F2 |
| added p50 at 1000 requests/s, HTTP/1.1 ≤ 0.3 ms | ${ADD[h1-1000-0.50-hypha]} ms | $B3 | ${ADD[h1-1000-0.50-floor]} ms (haproxy ${ADD[h1-1000-0.50-haproxy]} ms) | $F3 |
| added p99 at 1000 requests/s, HTTP/1.1 ≤ 1 ms and ≤ haproxy's (${ADD[h1-1000-0.99-haproxy]} ms) | ${ADD[h1-1000-0.99-hypha]} ms | $B4 | ${ADD[h1-1000-0.99-floor]} ms | $F4 |
| proxy CPU per 1000 requests ≤ 1.5 × haproxy's (pairs loaded at once) | $SAME_RATIO × (sequential windows: $CPU_RATIO ×) | $B5 | $SAMEF_RATIO × (sequential: $CPU_FLOOR_RATIO ×) | $F5 |
| max throughput through the pair ≥ 50 % of direct (HTTP/1.1) | $H1MAXRATIO | $B6 | $H1MAXFLOOR | $F6 |
| start to ready, certified by a local control plane ≤ 300 ms | ${READY_MS:-?} ms | $B7 | ${floor_ready_ms} ms (no control plane) | $F7 |

Reading the last two columns: where even the floor misses a line, no proxy on this JVM, Netty and BoringSSL meets it
on this machine (haproxy's own figure is in the latency and throughput tables); where the floor meets it and Hypha
does not, the difference is Hypha's own work per request (HTTP/1 and HTTP/2 codecs and the conversion between them,
routing, metrics). \`bench/README.md\` ("What limits") has the profiles behind both and what would move each line.

### The lines the floor misses too: what limits them, what would move them

**Latency.** \`h2load\` sends its 10 connections' requests at the same tick, and the ten cross each proxy as one batch
(one wake-up, one TLS record): p50 is about the work of ten requests in each of four processes that share $(nproc) cores,
and p99 about the run's tenth-slowest burst of ten. The slowest request of each burst (HTTP/1.1 at 1000 requests/s;
ms, not added over direct; medians of the runs):

| configuration | bursts p50 | p90 | p99 |
|---|---|---|---|
$BURSTROWS
A pair's slow bursts are delayed whole while something else holds a CPU: in a JVM pair the JIT compiler redoing code
that the previous phase's closing connections deoptimized, young collections, the native-heap trimmer; on this machine
also its memory monitor (DAMON); \`bench/README.md\` (eleventh and twelfth rounds) has the measurements. Hypha's
excess over the floor is its own code path and allocation per request: more for the JIT to redo after a change of load,
more collections. What would move it: fewer layers per request; a native image (no JIT, a smaller heap). The ≤ 1 ms
half is missed by haproxy's pair as well: $(nproc) cores for the client, the backend and both proxies.

**Throughput.** Direct, the client and the backend have the $(nproc) cores to themselves; through a pair they share them
with two proxies, so every pair's fraction of direct is bounded well below 1 (haproxy's here: $H1MAXHAPROXY).
What would move it: more cores than processes, and less CPU per request (the CPU line).

**Start-up.** The JVM reaches \`main\` after about 0.2 s with the AOT cache mapped and Netty's TLS provider takes about
0.2 s more (0.12 s of it Netty checking the JDK's own TLS, not switchable in Netty 4.1): the floor relay listens after
${floor_ready_ms} ms with no control plane to ask. What would move it: a native image.

**Memory.** The Native Memory Tracking breakdown below.

### Where an idle proxy's memory goes (Native Memory Tracking, committed MiB)

An idle Hypha proxy with the same flags and NMT on: RSS $(mib $NMT_RSS) MiB = RssAnon $(mib $NMT_ANON) + RssFile
$(mib $NMT_FILE). NMT accounts for $NMTTOTAL MiB committed (the archive of the AOT cache and CDS is file-backed;
BoringSSL's and glibc's own allocations are not tracked). The floor: a JVM with the same flags that only sleeps uses
RSS $(mib $FLOOR_RSS) MiB (RssAnon $(mib $FLOOR_ANON) MiB).

| category | committed MiB |
|---|---|
$NMTROWS

What would move it: most of an idle proxy is the JVM itself — libjvm's code, the class-data archive (the AOT
cache's is larger than the default CDS archive it replaces: faster start, more mapped memory), metaspace, compiler
arenas and the code cache; the floor above is what remains with no proxy at all. Netty and BoringSSL take a JVM to
the floor pair's idle figure (same flags, their own AOT caches, no HTTP); the proxy's own classes and state are the
rest. Below the floor only a native image goes (GraalVM / Mandrel, which cannot be installed on these machines; the
proxy avoids reflection and dynamic class loading to stay ready for it). Within the JVM: C1-only
(\`-XX:TieredStopAtLevel=1\`) measured about 35 MiB less under load but twice the CPU per request and half the
maximum throughput; no AOT cache trades start-up time for the archive's mapped pages.

Raw outputs of every run are in \`bench/out/\` (not committed).
MD
if $SMOKE; then
  cat "$OUT/section.md"
  echo "smoke run: one-second runs on cold JVMs check that the harness works; their numbers mean nothing (bench/RESULTS.md unchanged)"
  exit 0
fi
source "$ROOT/bench/section.sh"
replace_section proxy "$OUT/section.md"
echo "wrote the proxy section of bench/RESULTS.md"
cat "$OUT/section.md"
