#!/usr/bin/env python3
"""What a constant-rate run's tail is made of (bench/README.md, "What limits", eleventh round).

    bench/tail.py [--jvm-log FILE]... LOG.tsv...

LOG.tsv is an h2load --log-file (start time in microseconds since the epoch, status, latency in microseconds), as
bench/run.sh writes them to bench/out/. h2load sends every connection's request at the same tick, so requests whose
starts lie within 2 ms of each other form a burst; a burst's latency is its slowest request's. For each log: the
bursts' latency percentiles; how many of the requests at or above the requests' p99 came in bursts that were delayed
whole (every request of the burst above the median); and the period at which the slowest 3 % of bursts recur most
regularly, with the same measure for as many bursts drawn at random as the baseline of no period at all.

A --jvm-log is a proxy's unified JVM log with wall-clock times, e.g. from
    -Xlog:gc,trimnative=debug,jit+compilation=debug:file=bench/out/jvm-%p.log:time
for each kind of event in it (young collection, native-heap trim, JIT compilation) it prints how many of the slowest
3 % of bursts overlapped one and how many of all bursts did: a kind found in the slow bursts far more often than in
all is a cause of the tail.
"""
import datetime
import math
import os
import random
import re
import sys

GAP_US = 2000
LINE = re.compile(r'^\[(\d{4}-\d\d-\d\dT[\d:.]+[+-]\d{4})\]\S* (.*)$')


def usage(msg):
    sys.exit(f"tail.py: {msg}\nusage: bench/tail.py [--jvm-log FILE]... LOG.tsv...")


def read_log(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                usage(f"{path}:{n}: not an h2load --log-file line (start µs, status, latency µs): {line.strip()!r}")
            rows.append(tuple(int(p) for p in parts))
    if not rows:
        usage(f"{path}: no requests")
    rows.sort()
    bursts = []
    for start, _, lat in rows:
        if bursts and start - bursts[-1][0] < GAP_US:
            bursts[-1][1].append(lat)
        else:
            bursts.append((start, [lat]))
    return rows, bursts


def read_jvm_log(path):
    """(start µs, end µs, kind) of each collection, trim and compilation in a log with 'time' decorations."""
    events = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line.rstrip())
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1e6
            text = m.group(2)
            took = re.search(r' ([\d.]+)ms$', text)
            if 'Pause Young' in text and took:
                events.append((t - float(took.group(1)) * 1000, t, 'young collection'))
            elif 'Periodic Trim' in text and took:
                events.append((t - float(took.group(1)) * 1000, t, 'native-heap trim'))
            elif re.match(r'\s*\d+ ', text):
                events.append((t, t, 'JIT compilation'))
    if not events:
        usage(f"{path}: no collections, trims or compilations with wall-clock times "
              "(log with -Xlog:gc,trimnative=debug,jit+compilation=debug:file=F:time)")
    return events


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def best_period(times):
    """(concentration 0..1, period s) of the period in 0.1..1.2 s at which the times line up best."""
    best = (0.0, 0.0)
    for ms in range(100, 1200):
        p = ms / 1000
        c = sum(math.cos(2 * math.pi * t / p) for t in times)
        s = sum(math.sin(2 * math.pi * t / p) for t in times)
        best = max(best, (math.hypot(c, s) / len(times), p))
    return best


def main(argv):
    logs, jvm = [], []
    it = iter(argv)
    for a in it:
        if a == '--jvm-log':
            jvm.append(next(it, None) or usage("--jvm-log needs a file"))
        elif a.startswith('-'):
            usage(f"unknown option {a}")
        else:
            logs.append(a)
    if not logs:
        usage("no h2load log given")
    for path in jvm + logs:
        if not os.path.isfile(path):
            usage(f"{path}: no such file")
    events = [e for path in jvm for e in read_jvm_log(path)]
    for path in logs:
        rows, bursts = read_log(path)
        lats = sorted(r[2] for r in rows)
        median, p99 = pct(lats, 0.5), pct(lats, 0.99)
        worst = sorted(max(b[1]) for b in bursts)
        over = [b for b in bursts if max(b[1]) >= p99]
        whole = [b for b in over if min(b[1]) > median]
        at_p99 = sum(1 for x in lats if x >= p99)
        print(f"{path}: {len(rows)} requests in {len(bursts)} bursts of ~{len(rows) / len(bursts):.1f}; "
              f"request p50 {median / 1000:.2f} ms, p99 {p99 / 1000:.2f} ms")
        print(f"  bursts: p50 {pct(worst, .5) / 1000:.2f} ms, p90 {pct(worst, .9) / 1000:.2f}, "
              f"p99 {pct(worst, .99) / 1000:.2f}, max {worst[-1] / 1000:.2f}; requests at or above p99: {at_p99}, "
              f"in {len(over)} bursts; {sum(sum(1 for x in b[1] if x >= p99) for b in whole)} of them "
              f"in the {len(whole)} of those bursts that were delayed whole")
        slow_cut = pct(worst, 0.97)
        slow = [b for b in bursts[1:] if max(b[1]) >= slow_cut]  # the first burst also opens the connections
        if len(slow) >= 5:
            r, p = best_period([b[0] / 1e6 for b in slow])
            rnd = random.Random(len(rows))
            base = best_period([b[0] / 1e6 for b in rnd.sample(bursts[1:], len(slow))])[0]
            print(f"  slowest 3 % ({len(slow)} bursts) recur most regularly every {p:.3f} s "
                  f"(concentration {r:.2f}; as many bursts at random: {base:.2f})")
        if events:
            kinds = sorted({e[2] for e in events})
            for kind in kinds:
                spans = [(e[0], e[1]) for e in events if e[2] == kind]

                def hit(b):
                    start, end = b[0] - 1000, b[0] + max(b[1])
                    return any(s <= end and e >= start for s, e in spans)
                print(f"  {kind}: in {sum(map(hit, slow))} of the {len(slow)} slowest bursts, "
                      f"in {sum(map(hit, bursts))} of all {len(bursts)}")


if __name__ == '__main__':
    main(sys.argv[1:])
