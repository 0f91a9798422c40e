package dev.hypha.proxy.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.TapFilter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TapsTest {
    static final Taps.Request REQ = new Taps.Request(Direction.OUTBOUND, "127.0.0.1:5000", "10.0.0.7:8080", true,
            "web.demo.serviceaccount.identity.cluster.local", "books.demo.serviceaccount.identity.cluster.local",
            "GET /books/{id}", Map.of("pod", "books-1"), "GET", "http", "books.demo.svc.cluster.local:8080",
            "/books/7");

    /**
     * How "nothing extra while nobody taps" is measured: the only thing the request path does for tap when no tap
     * is open is {@link Taps#any()} (every other tap call in Exchange sits behind it, or behind a null session).
     * Its allocation over a million calls, read from the JVM's per-thread allocation counter, is zero.
     */
    @Test
    void withNoTapOpenTheRequestPathAllocatesNothing() {
        Taps taps = new Taps();
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        boolean any = false;
        for (int i = 0; i < 100_000; i++) { // warm up (JIT), so that only steady-state allocation is measured
            any |= taps.any();
        }
        long before = mx.getThreadAllocatedBytes(id);
        for (int i = 0; i < 1_000_000; i++) {
            any |= taps.any();
        }
        long after = mx.getThreadAllocatedBytes(id);
        assertFalse(any);
        // the two reads of the counter themselves may allocate a few bytes; a per-call allocation would be >= 16 MB
        assertTrue(after - before < 1024, (after - before) + " bytes allocated by 1,000,000 untapped requests");
    }

    @Test
    void filtersMatchEachField() {
        assertTrue(Taps.matches(TapFilter.getDefaultInstance(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().setDirection(Direction.OUTBOUND).build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().setDirection(Direction.INBOUND).build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().setMethod("get").build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().setMethod("POST").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().setPathPrefix("/books").build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().setPathPrefix("/authors").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().setRoute("GET /books/{id}").build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().setRoute("[DEFAULT]").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().addAuthorities("books.demo.svc.cluster.local").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().addAuthorities("books.demo.svc.cluster.local:8080").build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().addAuthorities("books.demo.svc.cluster.local:9090").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().addDestinationAddresses("10.0.0.9:8080")
                .addDestinationAddresses("10.0.0.7:8080").build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().addDestinationAddresses("10.0.0.9:8080").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().addDestinationAddresses("10.0.0.7").build(), REQ), "a bare IP");
        assertFalse(Taps.matches(TapFilter.newBuilder().addDestinationAddresses("10.0.0.70").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().addSourceAddresses("127.0.0.1").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().addSourceAddresses("127.0.0.1:5000").build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().addSourceAddresses("127.0.0.1:5001").build(), REQ));
        assertTrue(Taps.matches(TapFilter.newBuilder().setClientIdentity(REQ.clientId()).build(), REQ));
        assertFalse(Taps.matches(TapFilter.newBuilder().setClientIdentity("x.y.serviceaccount.identity.z").build(), REQ));
    }

    @Test
    void aSessionEmitsThreeEventsToEveryMatchingTapWithinItsRate() {
        Taps taps = new Taps();
        List<Tap> woken = new ArrayList<>();
        Tap all = new Tap(TapFilter.getDefaultInstance(), 2, woken::add);
        Tap other = new Tap(TapFilter.newBuilder().setMethod("POST").build(), 100, woken::add);
        taps.add(all);
        taps.add(other);
        Tapped s = taps.begin(REQ, 0);
        assertNotNull(s);
        s.responseInit(200, 2_000_000);
        s.bytes(10);
        s.bytes(5);
        s.end(5_000_000, null, null, null, true);
        s.end(6_000_000, null, null, null, true); // once only
        TapEvent req = all.poll();
        assertEquals("/books/7", req.getRequestInit().getPath());
        assertEquals("GET /books/{id}", req.getRoute());
        TapEvent rsp = all.poll();
        assertEquals(2000, rsp.getResponseInit().getSinceRequestInitMicros());
        TapEvent end = all.poll();
        assertEquals(15, end.getResponseEnd().getResponseBytes());
        assertEquals(5000, end.getResponseEnd().getSinceRequestInitMicros());
        assertEquals(3000, end.getResponseEnd().getSinceResponseInitMicros());
        assertEquals(-1, end.getResponseEnd().getGrpcStatus());
        assertNull(all.poll());
        assertNull(other.poll(), "a POST filter does not see a GET");
        assertNotNull(taps.begin(REQ, 0), "second request within the rate of 2");
        assertNull(taps.begin(REQ, 0), "third request in the same second is over the rate");
        taps.remove(all);
        taps.remove(other);
        assertFalse(taps.any());
    }

    @Test
    void aSlowReaderLosesEventsNotMemory() {
        Tap t = new Tap(TapFilter.getDefaultInstance(), 10_000, x -> { });
        for (int i = 0; i < Tap.QUEUE + 100; i++) {
            t.offer(TapEvent.getDefaultInstance());
        }
        assertEquals(100, t.dropped());
        int n = 0;
        while (t.poll() != null) {
            n++;
        }
        assertEquals(Tap.QUEUE, n);
    }
}
