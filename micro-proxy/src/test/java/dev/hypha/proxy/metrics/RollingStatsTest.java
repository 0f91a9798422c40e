package dev.hypha.proxy.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        now.addAndGet(35 * S); // the first 100 are more than a minute old now
        s = only(stats.snapshot());
        assertEquals(50, s.success());
        assertEquals(0, s.failure());
        now.addAndGet(61 * S); // a whole window without traffic: the series is gone
        assertTrue(stats.snapshot().isEmpty());
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

    static RollingStats.Snapshot only(List<RollingStats.Snapshot> l) {
        assertEquals(1, l.size(), l.toString());
        return l.get(0);
    }
}
