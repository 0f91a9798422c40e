#!/usr/bin/env bash
# Control-plane benchmark: RSS with 10 000 endpoints, propagation of an endpoint change to 100 and 1000 open
# Destination.Get streams, certificate signings per second. Appends its table to bench/RESULTS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25*; do [ -x "$d/bin/java" ] && export JAVA_HOME="$d" && break; done
echo "building..."
./mvnw -B -q -ntp -DskipTests install >/dev/null
./mvnw -B -q -ntp -pl e2e dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$ROOT/e2e/target/test.classpath" >/dev/null
CP="$ROOT/e2e/target/test-classes:$(cat "$ROOT/e2e/target/test.classpath")"
TABLE=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dhypha.root="$ROOT" -cp "$CP" dev.hypha.e2e.ControlBench)
source "$ROOT/bench/section.sh"
{
  echo "## Control plane (\`bench/control.sh\`, $(date -u +%Y-%m-%d))"
  echo
  echo "Local mode, registry of 100 services x 100 endpoints (10 000 endpoints), control plane JVM flags"
  echo "\`-XX:+UseSerialGC -XX:TieredStopAtLevel=1\`, Quarkus JVM mode; clients are the proxy's own gRPC client."
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "$TABLE"
} > "$ROOT/e2e/target/control-section.md"
replace_section control "$ROOT/e2e/target/control-section.md"
echo "$TABLE"
