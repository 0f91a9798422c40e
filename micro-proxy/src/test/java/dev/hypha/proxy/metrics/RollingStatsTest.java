package dev.hypha.proxy.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RollingStatsTest {
    static final long S = 1_000_000_000L;
    static final long MS = 1_000_000L;

    @Test
    void countsAreExactOverTheWindowAndOldBucketsSlideOut() {
        AtomicLong now = new AtomicLong(1000 * S);
        RollingStats stats = new RollingStats(now::get, 100);
        for (int i = 0; i < 90; i++) {
            stats.record("outbound", "books:80", "GET /books", true, 3 * MS);
        }
        for (int i = 0; i < 10; i++) {
            stats.record("outbound", "books:80", "GET /books", false, 3 * MS);
        }
        now.addAndGet(30 * S);
        for (int i = 0; i < 50; i++) {
            stats.record("outbound", "books:80", "GET /books", true, 3 * MS);
        }
        RollingStats.Snapshot s = only(stats.snapshot());
        assertEquals(140, s.success());
        assertEquals(10, s.failure());
        now.addAndGet(41 * S); // 1071 s: the minute before the current bucket starts at 1010, after the first 100
        s = only(stats.snapshot());
        assertEquals(50, s.success());
        assertEquals(0, s.failure());
        now.addAndGet(70 * S); // the whole retained time (a minute and the current bucket) idle: the series is gone
        assertTrue(stats.snapshot().isEmpty());
    }

    @Test
    void aWindowIsItsWholeBucketsAndThePassedPartOfTheCurrentOneAndSaysHowLongThatIs() {
        AtomicLong now = new AtomicLong(1000 * S); // a bucket boundary
        RollingStats stats = new RollingStats(now::get, 100);
        RollingStats.EdgeKey peer = new RollingStats.EdgeKey("inbound", "10.0.0.1", "web.ns", true, null);
        for (int i = 0; i < 20; i++) {
            stats.record("inbound", "web:80", "[DEFAULT]", true, MS);
            stats.recordEdge(peer);
        }
        now.addAndGet(9 * S + 500 * MS); // 1009.5 s: still the same bucket
        for (int i = 0; i < 10; i++) {
            stats.record("inbound", "web:80", "[DEFAULT]", true, MS);
        }
        now.addAndGet(600 * MS); // 1010.1 s: a boundary just passed, nothing recorded in the new bucket yet
        RollingStats.Window w = stats.window(1);
        assertEquals(30, only(w.series()).success(), "the 10 s window still holds the whole bucket before");
        assertEquals(20, w.edges().get(0).requests());
        assertEquals(10 * S + 100 * MS, w.spanNanos(), "10 s of whole bucket and 0.1 s of the current one");

        now.addAndGet(9 * S); // 1019.1 s
        stats.record("inbound", "web:80", "[DEFAULT]", false, MS);
        w = stats.window(1);
        assertEquals(30, only(w.series()).success());
        assertEquals(1, only(w.series()).failure());
        assertEquals(19 * S + 100 * MS, w.spanNanos());
        assertEquals(69 * S + 100 * MS, stats.window(6).spanNanos());

        now.addAndGet(1 * S); // 1020.1 s: the first bucket is two buckets back, out of a 10 s window
        w = stats.window(1);
        RollingStats.Snapshot s = only(w.series());
        assertEquals(0, s.success());
        assertEquals(1, s.failure());
        assertTrue(w.edges().isEmpty(), w.edges().toString());
        assertEquals(31, only(stats.window(2).series()).total(), "a 20 s window reaches back to 1000 s");

        now.set(1060 * S); // the first bucket is six whole buckets back: still inside a minute's window
        assertEquals(31, only(stats.snapshot()).total());
        now.set(1070 * S); // seven back: gone; the failure at 1019.1 s is six back and stays
        assertEquals(1, only(stats.snapshot()).total());

        assertThrows(IllegalArgumentException.class, () -> stats.window(0));
        assertThrows(IllegalArgumentException.class, () -> stats.window(7));
    }

    @Test
    void theProxysClockPutsBucketBoundariesOnTheWallClocksTensOfSeconds() {
        long wall = System.currentTimeMillis();
        long aligned = RollingStats.wallAlignedClock().getAsLong() / MS;
        assertTrue(Math.abs(aligned - wall) < 1000, "reads as the epoch's milliseconds: " + aligned + " vs " + wall);
    }

    @Test
    void percentilesAreWithinOneBucketOfTheTruth() {
        AtomicLong now = new AtomicLong(5 * S);
        RollingStats stats = new RollingStats(now::get, 100);
        // 1..1000 ms, one request each: p50 = 500 ms, p95 = 950, p99 = 990
        for (int ms = 1; ms <= 1000; ms++) {
            stats.record("inbound", "web:8080", "[DEFAULT]", true, ms * MS);
        }
        RollingStats.Snapshot s = only(stats.snapshot());
        assertEquals(500, s.percentileMs(0.50));
        assertEquals(1000, s.percentileMs(0.95), "950 ms lies in the (500, 1000] bucket");
        assertEquals(1000, s.percentileMs(0.99));
        assertEquals(1, s.percentileMs(0.0001));
        assertEquals(2, RollingStats.Series.bucket(3 * MS), "exactly 3 ms falls in the <= 3 ms bucket");
        assertEquals(3, RollingStats.Series.bucket(3 * MS + 1), "just over 3 ms falls in the next bucket");
    }

    @Test
    void seriesAreBounded() {
        AtomicLong now = new AtomicLong(0);
        RollingStats stats = new RollingStats(now::get, 3);
        for (int i = 0; i < 5; i++) {
            stats.record("outbound", "svc-" + i, "[DEFAULT]", true, MS);
        }
        assertEquals(3, stats.snapshot().size());
        assertEquals(2, stats.droppedSeries());
    }

    @Test
    void aConnectionsRememberedSeriesTakesItsRequestsAndARetiredOneLosesNone() {
        AtomicLong now = new AtomicLong(1000 * S);
        RollingStats stats = new RollingStats(now::get, 100);
        RollingStats.Last last = new RollingStats.Last();
        String authority = "books:80";
        for (int i = 0; i < 3; i++) {
            // equal labels in new strings each time, as a request's authority is
            stats.record(last, "outbound", new String(authority), "GET /books", true, 3 * MS, 1, 0);
        }
        stats.record(last, "outbound", "authors:80", "GET /books", false, 3 * MS, 0, 1);
        List<RollingStats.Snapshot> all = stats.snapshot();
        assertEquals(2, all.size(), all.toString());
        RollingStats.Snapshot books = all.stream().filter(x -> x.authority().equals(authority)).findFirst().get();
        assertEquals(3, books.success());
        assertEquals(3, books.actualSuccess());

        // the whole retained time idle: a snapshot retires the series the connection still remembers ...
        now.addAndGet(71 * S);
        assertTrue(stats.snapshot().isEmpty());
        // ... and its next request goes to a live series, not into the retired one
        stats.record(last, "outbound", "authors:80", "GET /books", true, 3 * MS, 1, 0);
        RollingStats.Snapshot s = only(stats.snapshot());
        assertEquals("authors:80", s.authority());
        assertEquals(1, s.success());

        RollingStats.LastEdge edge = new RollingStats.LastEdge();
        RollingStats.EdgeKey k = new RollingStats.EdgeKey("inbound", "10.0.0.1", "web.ns", true, null);
        stats.recordEdge(edge, k);
        now.addAndGet(71 * S);
        assertTrue(stats.window(6).edges().isEmpty());
        stats.recordEdge(edge, k);
        stats.recordEdge(edge, new RollingStats.EdgeKey("inbound", "10.0.0.1", "web.ns", true, null));
        assertEquals(2, stats.window(6).edges().get(0).requests(), "both counted on the live edge");
    }

    @Test
    void aRememberedFamilySeriesIsTheFamilysOwn() {
        Registry r = new Registry();
        Family.Counter c = r.counter("t_total", "test", "direction", "authority");
        Family.Last<java.util.concurrent.atomic.LongAdder> last = new Family.Last<>();
        c.inc(last, "outbound", new String("a:80"));
        c.inc(last, "outbound", new String("a:80"));
        c.inc(last, "outbound", "b:80");
        c.inc("outbound", "a:80");
        assertEquals(3, c.with("outbound", "a:80").sum());
        assertEquals(1, c.with("outbound", "b:80").sum());
        assertEquals(2, c.series.size());
    }

    static RollingStats.Snapshot only(List<RollingStats.Snapshot> l) {
        assertEquals(1, l.size(), l.toString());
        return l.get(0);
    }
}
