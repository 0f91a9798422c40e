#!/usr/bin/env bash
# Helpers the benchmark scripts share for reading /proc (sourced by bench/run.sh and bench/ab.sh).

# cpu_ticks PID or PID/task/TID: user + system CPU ticks of a process or a thread — fields 14 and 15 of stat,
# counted after the name in parentheses, which may hold spaces (a JVM's "C2 CompilerThre")
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}'; }
