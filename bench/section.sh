#!/usr/bin/env bash
# replace_section NAME FILE: puts FILE's content into bench/RESULTS.md between <!-- BEGIN NAME --> and
# <!-- END NAME -->, keeping every other section (each benchmark script owns one section).
replace_section() {
  local name="$1" content="$2" results
  results="$(dirname "${BASH_SOURCE[0]}")/RESULTS.md"
  [ -f "$results" ] || printf '# Benchmark results\n\nEach section is written by the script it names; rerun a script to refresh its section.\n' > "$results"
  awk -v name="$name" -v file="$content" '
    BEGIN { begin = "<!-- BEGIN " name " -->"; end = "<!-- END " name " -->"; done = 0 }
    $0 == begin { print; while ((getline line < file) > 0) print line; skip = 1; done = 1; next }
    $0 == end { skip = 0; print; next }
    !skip { print }
    END { if (!done) { print ""; print begin; while ((getline line < file) > 0) print line; print end } }
  ' "$results" > "$results.tmp" && mv "$results.tmp" "$results"
}
