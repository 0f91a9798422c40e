package dev.hypha.proxy.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Exact rolling-window statistics per (direction, authority, route): success and failure counts and a latency
 * histogram in 10-second buckets, kept by the proxy itself so that {@code hypha stat} and {@code hypha routes} need
 * no Prometheus. A window of n buckets (1 to {@link #BUCKETS}) is the n whole buckets before the current one plus
 * the part of the current one that has passed: it covers at least the window asked for and never comes back empty
 * just after a bucket boundary, and its exact length comes with it ({@link Window#spanNanos()}), so that a rate is
 * the counts divided by the time they were counted in. Bucket boundaries fall on multiples of 10 s of wall-clock
 * time ({@link #wallAlignedClock()}), so every proxy's window over the same moment covers the same span and the
 * control plane can add them up. Memory is bounded: at most {@code maxKeys} series (past that, new ones are
 * counted as dropped), and a series with no traffic for the whole retained time is removed when a snapshot is
 * taken. Recording takes a lock per series, never a global one. Beside the series, the proxy keeps its edges (which
 * peers it talked to, with their identities) the same way.
 */
public final class RollingStats {
    /** Upper bounds of the latency buckets, in milliseconds (the last bucket is everything above). */
    public static final long[] BOUNDS_MS = {1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000,
        3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000};
    /** Whole buckets a window can ask for (a minute). */
    public static final int BUCKETS = 6;
    public static final long BUCKET_NANOS = 10_000_000_000L;
    /** Buckets kept: the whole ones a window can ask for and the current one. */
    static final int RETAINED = BUCKETS + 1;

    private final LongSupplier nanoClock;
    private final int maxKeys;
    private final Map<Key, Series> series = new ConcurrentHashMap<>();
    private final Map<EdgeKey, Series> edges = new ConcurrentHashMap<>();
    private final LongAdder dropped = new LongAdder();

    /**
     * @param nanoClock a monotonic clock in nanoseconds; bucket boundaries fall where it crosses a multiple of 10 s
     *                  ({@link #wallAlignedClock()} in the proxy)
     */
    public RollingStats(LongSupplier nanoClock, int maxKeys) {
        this.nanoClock = nanoClock;
        this.maxKeys = maxKeys;
    }

    /**
     * {@link System#nanoTime()} shifted once, at the call, to read as nanoseconds since the epoch: monotonic, and
     * its multiples of 10 s fall on the wall clock's, as on every other proxy whose node keeps time.
     */
    public static LongSupplier wallAlignedClock() {
        long offset = System.currentTimeMillis() * 1_000_000L - System.nanoTime();
        return () -> System.nanoTime() + offset;
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
        Series s = recordInto(series, k, now, success, latencyNanos, triesSucceeded, triesFailed);
        if (s != null && last != null) {
            last.key = k;
            last.series = s;
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
        Series s = recordInto(edges, edge, now, true, 0, 0, 0);
        if (s != null && last != null) {
            last.edge = edge;
            last.series = s;
        }
    }

    /**
     * Records into {@code map}'s series of {@code k}, made when missing; the series it went into, or null when the
     * map is full (counted as dropped). A series a snapshot retired just now (idle for the retained time) takes
     * nothing: it leaves the map and a fresh one takes the request.
     */
    private <K> Series recordInto(Map<K, Series> map, K k, long now, boolean ok, long latencyNanos, int triesOk,
            int triesFailed) {
        for (int attempt = 0; attempt < 2; attempt++) {
            Series s = map.get(k);
            if (s == null) {
                if (map.size() >= maxKeys) {
                    dropped.increment();
                    return null;
                }
                s = map.computeIfAbsent(k, x -> new Series());
            }
            if (s.record(now, ok, latencyNanos, triesOk, triesFailed)) {
                return s;
            }
            map.remove(k, s);
        }
        return null;
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

    /**
     * Statistics over a window: the series and edges with traffic in it and the exact time it covers (the whole
     * buckets asked for and the passed part of the current one).
     */
    public record Window(long spanNanos, List<Snapshot> series, List<EdgeSnapshot> edges) {
    }

    /** Every live series over the longest window (a minute and the current bucket's passed part). */
    public List<Snapshot> snapshot() {
        return window(BUCKETS).series();
    }

    /**
     * The series and edges with traffic over the {@code buckets} whole 10-second buckets before the current one
     * (1 to {@link #BUCKETS}) and the current one's passed part; series and edges idle for the whole retained time
     * are removed.
     */
    public Window window(int buckets) {
        if (buckets < 1 || buckets > BUCKETS) {
            throw new IllegalArgumentException("a window is 1 to " + BUCKETS + " buckets, not " + buckets);
        }
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
        List<EdgeSnapshot> edgesOut = new ArrayList<>();
        for (Map.Entry<EdgeKey, Series> e : edges.entrySet()) {
            Series.Sums sums = e.getValue().sums(now, buckets);
            if (sums == null) {
                edges.remove(e.getKey(), e.getValue());
            } else if (sums.success > 0) {
                edgesOut.add(new EdgeSnapshot(e.getKey(), sums.success));
            }
        }
        return new Window(buckets * BUCKET_NANOS + Math.floorMod(now, BUCKET_NANOS), out, edgesOut);
    }

    /** One edge's requests over the window. */
    public record EdgeSnapshot(EdgeKey edge, long requests) {
    }

    /** One series: a ring of buckets, each stamped with the 10-second slot it holds. */
    static final class Series {
        private final long[] slot = new long[RETAINED];
        private final long[] success = new long[RETAINED];
        private final long[] failure = new long[RETAINED];
        private final long[] trySuccess = new long[RETAINED];
        private final long[] tryFailure = new long[RETAINED];
        private final long[][] hist = new long[RETAINED][BOUNDS_MS.length + 1];
        private long lastSlot = Long.MIN_VALUE;
        private boolean retired;

        Series() {
            java.util.Arrays.fill(slot, Long.MIN_VALUE);
        }

        private int slotFor(long now) {
            long s = Math.floorDiv(now, BUCKET_NANOS);
            int i = (int) Math.floorMod(s, (long) RETAINED);
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
         * Sums over the current slot and the {@code buckets} before it; null when idle for all the retained slots,
         * and the series is then retired: it records nothing more (whoever holds it looks it up again), so no
         * request recorded into it after the check is lost with it.
         */
        synchronized Sums sums(long now, int buckets) {
            long current = Math.floorDiv(now, BUCKET_NANOS);
            if (retired || lastSlot <= current - RETAINED) {
                retired = true;
                return null;
            }
            Sums out = new Sums();
            for (int i = 0; i < RETAINED; i++) {
                if (slot[i] >= current - buckets && slot[i] <= current) {
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
