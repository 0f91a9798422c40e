package dev.hypha.proxy.balance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.config.HostPort;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BalancerTest {
    static final long DECAY = 10_000_000_000L;

    static Endpoint ep(int n) {
        return new Endpoint(new HostPort("10.0.0." + n, 80), null, 0, Map.of(), 30_000_000L);
    }

    @Test
    void theCheaperOfTwoWins() {
        Endpoint fast = ep(1);
        Endpoint slow = ep(2);
        // teach it: slow answers in 200 ms, fast in 1 ms
        slow.startRequest(System.nanoTime());
        slow.finish(200_000_000L, false, DECAY);
        fast.startRequest(System.nanoTime());
        fast.finish(1_000_000L, false, DECAY);
        int fastPicks = 0;
        for (int i = 0; i < 200; i++) {
            Endpoint e = Balancer.pick(List.of(fast, slow), null);
            if (e == fast) {
                fastPicks++;
            }
            e.finish(0, false, DECAY); // no latency sample, just end the request
        }
        assertEquals(200, fastPicks, "with two endpoints P2C compares both: the faster always wins");
    }

    @Test
    void requestsInFlightSpreadTheLoad() {
        Endpoint a = ep(1);
        Endpoint b = ep(2);
        int onA = 0;
        for (int i = 0; i < 100; i++) {
            if (Balancer.pick(List.of(a, b), null) == a) {
                onA++; // never finished: pending grows, so the other becomes cheaper
            }
        }
        assertTrue(onA >= 45 && onA <= 55, "pending requests must spread equal endpoints: " + onA + " of 100 on a");
    }

    @Test
    void sevenConsecutiveFailuresTripAnEndpointUntilItsPenaltyEndsThenOneProbe() throws Exception {
        Endpoint bad = ep(1);
        for (int i = 0; i < 6; i++) {
            bad.startRequest(System.nanoTime());
            bad.finish(1_000_000L, true, DECAY);
        }
        assertFalse(bad.penalized(), "six failures do not trip it");
        bad.startRequest(System.nanoTime());
        bad.finish(1_000_000L, true, DECAY);
        assertTrue(bad.penalized(), "the seventh does");
        assertNull(Balancer.pick(List.of(bad), null), "a tripped endpoint is not chosen");
        long deadline = System.nanoTime() + 5_000_000_000L;
        Endpoint probe = null;
        while (probe == null && System.nanoTime() < deadline) {
            Thread.sleep(20);
            probe = Balancer.pick(List.of(bad), null);
        }
        assertSame(bad, probe, "after the penalty (1 s, jittered) one request probes it");
        assertNull(Balancer.pick(List.of(bad), null), "only one probe at a time");
        probe.finish(1_000_000L, false, DECAY);
        assertFalse(bad.penalized());
        Endpoint again = Balancer.pick(List.of(bad), null);
        assertSame(bad, again, "a successful probe restores it");
    }

    @Test
    void avoidSkipsTheEndpointThatJustFailed() {
        Endpoint a = ep(1);
        Endpoint b = ep(2);
        for (int i = 0; i < 20; i++) {
            Endpoint e = Balancer.pick(List.of(a, b), a);
            assertSame(b, e);
            e.finish(0, false, DECAY);
        }
        assertNull(Balancer.pick(List.of(a), a));
    }
}
