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
 * when a snapshot is taken. Recording takes a lock per series, never a global one. Beside the series, the proxy
 * keeps its edges (which peers it talked to, with their identities) the same way.
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
    private final Map<EdgeKey, Series> edges = new ConcurrentHashMap<>();
    private final LongAdder dropped = new LongAdder();

    public RollingStats(LongSupplier nanoClock, int maxKeys) {
        this.nanoClock = nanoClock;
        this.maxKeys = maxKeys;
    }

    record Key(String direction, String authority, String route) {
    }

    /**
     * The other side of a hop: outbound the endpoint (its address and discovery labels, its proven identity),
     * inbound the client (its IP and proven identity). Labels are held by reference, not copied.
     */
    public record EdgeKey(String direction, String peerAddress, String peerIdentity, boolean secured,
            Map<String, String> peerLabels) {
        @Override
        public boolean equals(Object o) {
            return o instanceof EdgeKey e && e.direction.equals(direction) && e.peerAddress.equals(peerAddress)
                    && e.peerIdentity.equals(peerIdentity) && e.secured == secured;
        }

        @Override
        public int hashCode() {
            return (direction.hashCode() * 31 + peerAddress.hashCode()) * 31 + peerIdentity.hashCode()
                    + (secured ? 1 : 0);
        }
    }

    /** Records one finished request (as the caller saw it, after retries) and no tries. */
    public void record(String direction, String authority, String route, boolean success, long latencyNanos) {
        record(direction, authority, route, success, latencyNanos, 0, 0);
    }

    /**
     * Records one finished request (as the caller saw it, after retries) and the responses of its tries (every
     * try, retries included: what {@code hypha routes -o wide} calls actual).
     */
    public void record(String direction, String authority, String route, boolean success, long latencyNanos,
            int triesSucceeded, int triesFailed) {
        record(null, direction, authority, route, success, latencyNanos, triesSucceeded, triesFailed);
    }

    /**
     * As {@link #record(String, String, String, boolean, long, int, int)}, through the series {@code last} holds
     * when it is this one (a connection's requests mostly go to one route of one authority): no key is built and
     * the map is not asked. {@code last} may be null.
     */
    public void record(Last last, String direction, String authority, String route, boolean success,
            long latencyNanos, int triesSucceeded, int triesFailed) {
        long now = nanoClock.getAsLong();
        if (last != null && last.series != null && last.key.direction == direction
                && last.key.authority.equals(authority) && last.key.route.equals(route)
                && last.series.record(now, success, latencyNanos, triesSucceeded, triesFailed)) {
            return;
        }
        Key k = new Key(direction, authority, route);
        for (int attempt = 0; attempt < 2; attempt++) {
            Series s = series(series, k);
            if (s == null) {
                return;
            }
            if (s.record(now, success, latencyNanos, triesSucceeded, triesFailed)) {
                if (last != null) {
                    last.key = k;
                    last.series = s;
                }
                return;
            }
            series.remove(k, s); // a snapshot found it idle and retired it just now: a fresh one takes the request
        }
    }

    /** Records one request over an edge (who talked to whom). */
    public void recordEdge(EdgeKey edge) {
        recordEdge(null, edge);
    }

    /** As {@link #recordEdge(EdgeKey)}, through the edge {@code last} holds when it is this one (may be null). */
    public void recordEdge(LastEdge last, EdgeKey edge) {
        long now = nanoClock.getAsLong();
        if (last != null && last.series != null && (last.edge == edge || last.edge.equals(edge))
                && last.series.record(now, true, 0, 0, 0)) {
            return;
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            Series s = series(edges, edge);
            if (s == null) {
                return;
            }
            if (s.record(now, true, 0, 0, 0)) {
                if (last != null) {
                    last.edge = edge;
                    last.series = s;
                }
                return;
            }
            edges.remove(edge, s);
        }
    }

    private <K> Series series(Map<K, Series> map, K k) {
        Series s = map.get(k);
        if (s == null) {
            if (map.size() >= maxKeys) {
                dropped.increment();
                return null;
            }
            s = map.computeIfAbsent(k, x -> new Series());
        }
        return s;
    }

    /** The series of (direction, authority, route) a caller recorded last. Not thread-safe: one per connection. */
    public static final class Last {
        private Key key;
        private Series series;
    }

    /** The edge a caller recorded last. Not thread-safe: one per connection. */
    public static final class LastEdge {
        private EdgeKey edge;
        private Series series;
    }

    public long droppedSeries() {
        return dropped.sum();
    }

    /** The statistics of one series over the window. */
    public record Snapshot(String direction, String authority, String route, long success, long failure,
            long actualSuccess, long actualFailure, long[] histogram) {
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
        return snapshot(BUCKETS);
    }

    /**
     * Every series with traffic over the last {@code buckets} 10-second buckets (1 to 6; the current, partial one
     * included); series idle for the whole retained window are removed.
     */
    public List<Snapshot> snapshot(int buckets) {
        long now = nanoClock.getAsLong();
        List<Snapshot> out = new ArrayList<>();
        for (Map.Entry<Key, Series> e : series.entrySet()) {
            Key k = e.getKey();
            Series.Sums sums = e.getValue().sums(now, buckets);
            if (sums == null) {
                series.remove(k, e.getValue());
            } else if (sums.success + sums.failure + sums.trySuccess + sums.tryFailure > 0) {
                out.add(new Snapshot(k.direction(), k.authority(), k.route(), sums.success, sums.failure,
                        sums.trySuccess, sums.tryFailure, sums.hist));
            }
        }
        return out;
    }

    /** One edge's requests over the window. */
    public record EdgeSnapshot(EdgeKey edge, long requests) {
    }

    /** Every edge with traffic over the last {@code buckets} buckets; idle edges are removed. */
    public List<EdgeSnapshot> edges(int buckets) {
        long now = nanoClock.getAsLong();
        List<EdgeSnapshot> out = new ArrayList<>();
        for (Map.Entry<EdgeKey, Series> e : edges.entrySet()) {
            Series.Sums sums = e.getValue().sums(now, buckets);
            if (sums == null) {
                edges.remove(e.getKey(), e.getValue());
            } else if (sums.success > 0) {
                out.add(new EdgeSnapshot(e.getKey(), sums.success));
            }
        }
        return out;
    }

    /** One series: a ring of buckets, each stamped with the 10-second slot it holds. */
    static final class Series {
        private final long[] slot = new long[BUCKETS];
        private final long[] success = new long[BUCKETS];
        private final long[] failure = new long[BUCKETS];
        private final long[] trySuccess = new long[BUCKETS];
        private final long[] tryFailure = new long[BUCKETS];
        private final long[][] hist = new long[BUCKETS][BOUNDS_MS.length + 1];
        private long lastSlot = Long.MIN_VALUE;
        private boolean retired;

        Series() {
            java.util.Arrays.fill(slot, Long.MIN_VALUE);
        }

        private int slotFor(long now) {
            long s = Math.floorDiv(now, BUCKET_NANOS);
            int i = (int) Math.floorMod(s, (long) BUCKETS);
            if (slot[i] != s) {
                slot[i] = s;
                success[i] = 0;
                failure[i] = 0;
                trySuccess[i] = 0;
                tryFailure[i] = 0;
                java.util.Arrays.fill(hist[i], 0);
            }
            lastSlot = s;
            return i;
        }

        /** False, recording nothing, once the series is retired (idle for a whole window and removed). */
        synchronized boolean record(long now, boolean ok, long latencyNanos, int triesOk, int triesFailed) {
            if (retired) {
                return false;
            }
            int i = slotFor(now);
            trySuccess[i] += triesOk;
            tryFailure[i] += triesFailed;
            if (ok) {
                success[i]++;
            } else {
                failure[i]++;
            }
            hist[i][bucket(latencyNanos)]++;
            return true;
        }

        static final class Sums {
            long success;
            long failure;
            long trySuccess;
            long tryFailure;
            final long[] hist = new long[BOUNDS_MS.length + 1];
        }

        /**
         * Sums over the last {@code buckets} slots; null when idle for the whole retained window, and the series is
         * then retired: it records nothing more (whoever holds it looks it up again), so no request recorded into
         * it after the check is lost with it.
         */
        synchronized Sums sums(long now, int buckets) {
            long current = Math.floorDiv(now, BUCKET_NANOS);
            if (retired || lastSlot <= current - BUCKETS) {
                retired = true;
                return null;
            }
            Sums out = new Sums();
            for (int i = 0; i < BUCKETS; i++) {
                if (slot[i] > current - buckets && slot[i] <= current) {
                    out.success += success[i];
                    out.failure += failure[i];
                    out.trySuccess += trySuccess[i];
                    out.tryFailure += tryFailure[i];
                    for (int j = 0; j < out.hist.length; j++) {
                        out.hist[j] += hist[i][j];
                    }
                }
            }
            return out;
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
