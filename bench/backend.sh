# The benchmarks' app (sourced by run.sh and ab.sh): haproxy, one thread, answering every request from memory with
# 1 KiB and the headers an app's response typically carries (type, length, date, cache-control) —
# HTTP/1.1 and h2c (prior knowledge) on one port, as the proxies need it. It replaced the Netty test app
# (HttpBackend), whose own periodic 1.5–5 ms stalls (not its collections, not safepoints; cause not found) reached
# every configuration's tail alike (direct p99 at 1000 requests/s 1.6–1.9 ms against this backend's 0.5–1.0 ms on
# the same machine).
#
#   backend_start PORT DIR    starts it in the background (the caller takes $!); its files go to DIR
backend_start() {
  local port=$1 dir=$2 headers="hdr date %[date,http_date] hdr cache-control no-store"
  head -c 1024 /dev/zero | tr '\0' x > "$dir/backend-1k"
  cat > "$dir/backend.cfg" <<CFG
global
  nbthread 1
defaults
  mode http
  timeout client 300s
  timeout http-keep-alive 300s
frontend app
  bind 127.0.0.1:$port
  http-request return status 200 content-type application/octet-stream file $dir/backend-1k $headers
CFG
  haproxy -db -f "$dir/backend.cfg" > "$dir/backend.log" 2>&1 &
}
