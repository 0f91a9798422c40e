package dev.hypha.proxy.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Exact rolling-window statistics per (direction, authority, route): success and failure counts and a latency
 * histogram over the last {@link #WINDOW_NANOS} (six 10-second buckets), kept by the proxy itself so that
 * {@code hypha stat} and {@code hypha routes} need no Prometheus. Memory is bounded: at most {@code maxKeys}
 * series (past that, new ones are counted as dropped), and a series with no traffic for a whole window is removed
 * when a snapshot is taken. Recording takes a lock per series, never a global one.
 */
public final class RollingStats {
    /** Upper bounds of the latency buckets, in milliseconds (the last bucket is everything above). */
    public static final long[] BOUNDS_MS = {1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000,
        3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000};
    static final int BUCKETS = 6;
    static final long BUCKET_NANOS = 10_000_000_000L;
    public static final long WINDOW_NANOS = BUCKETS * BUCKET_NANOS;

    private final LongSupplier nanoClock;
    private final int maxKeys;
    private final Map<Key, Series> series = new ConcurrentHashMap<>();
    private final LongAdder dropped = new LongAdder();

    public RollingStats(LongSupplier nanoClock, int maxKeys) {
        this.nanoClock = nanoClock;
        this.maxKeys = maxKeys;
    }

    record Key(String direction, String authority, String route) {
    }

    /** Records one finished request. */
    public void record(String direction, String authority, String route, boolean success, long latencyNanos) {
        Key k = new Key(direction, authority, route);
        Series s = series.get(k);
        if (s == null) {
            if (series.size() >= maxKeys) {
                dropped.increment();
                return;
            }
            s = series.computeIfAbsent(k, x -> new Series());
        }
        s.record(nanoClock.getAsLong(), success, latencyNanos);
    }

    public long droppedSeries() {
        return dropped.sum();
    }

    /** The statistics of one series over the window. */
    public record Snapshot(String direction, String authority, String route, long success, long failure,
            long[] histogram) {
        public long total() {
            return success + failure;
        }

        /** The upper bound (ms) of the bucket holding the p-quantile of latency; -1 without requests. */
        public long percentileMs(double p) {
            long n = total();
            if (n == 0) {
                return -1;
            }
            long rank = Math.max(1, (long) Math.ceil(p * n));
            long seen = 0;
            for (int i = 0; i < histogram.length; i++) {
                seen += histogram[i];
                if (seen >= rank) {
                    return i < BOUNDS_MS.length ? BOUNDS_MS[i] : Long.MAX_VALUE;
                }
            }
            return Long.MAX_VALUE;
        }
    }

    /** Every live series over the last window; series idle for a whole window are removed. */
    public List<Snapshot> snapshot() {
        long now = nanoClock.getAsLong();
        List<Snapshot> out = new ArrayList<>();
        for (Map.Entry<Key, Series> e : series.entrySet()) {
            Snapshot s = e.getValue().snapshot(now, e.getKey());
            if (s == null) {
                series.remove(e.getKey(), e.getValue());
            } else {
                out.add(s);
            }
        }
        return out;
    }

    /** One series: a ring of buckets, each stamped with the 10-second slot it holds. */
    static final class Series {
        private final long[] slot = new long[BUCKETS];
        private final long[] success = new long[BUCKETS];
        private final long[] failure = new long[BUCKETS];
        private final long[][] hist = new long[BUCKETS][BOUNDS_MS.length + 1];
        private long lastSlot = Long.MIN_VALUE;

        Series() {
            java.util.Arrays.fill(slot, Long.MIN_VALUE);
        }

        synchronized void record(long now, boolean ok, long latencyNanos) {
            long s = Math.floorDiv(now, BUCKET_NANOS);
            int i = (int) Math.floorMod(s, (long) BUCKETS);
            if (slot[i] != s) {
                slot[i] = s;
                success[i] = 0;
                failure[i] = 0;
                java.util.Arrays.fill(hist[i], 0);
            }
            if (ok) {
                success[i]++;
            } else {
                failure[i]++;
            }
            hist[i][bucket(latencyNanos)]++;
            lastSlot = s;
        }

        synchronized Snapshot snapshot(long now, Key k) {
            long current = Math.floorDiv(now, BUCKET_NANOS);
            if (lastSlot <= current - BUCKETS) {
                return null;
            }
            long ok = 0;
            long bad = 0;
            long[] h = new long[BOUNDS_MS.length + 1];
            for (int i = 0; i < BUCKETS; i++) {
                if (slot[i] > current - BUCKETS && slot[i] <= current) {
                    ok += success[i];
                    bad += failure[i];
                    for (int j = 0; j < h.length; j++) {
                        h[j] += hist[i][j];
                    }
                }
            }
            return new Snapshot(k.direction(), k.authority(), k.route(), ok, bad, h);
        }

        static int bucket(long latencyNanos) {
            long ms = latencyNanos / 1_000_000;
            long rem = latencyNanos % 1_000_000;
            for (int i = 0; i < BOUNDS_MS.length; i++) {
                if (ms < BOUNDS_MS[i] || (ms == BOUNDS_MS[i] && rem == 0)) {
                    return i;
                }
            }
            return BOUNDS_MS.length;
        }
    }
}
