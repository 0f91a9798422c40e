package dev.hypha.proxy.tap;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.Edge;
import dev.hypha.api.v1.Series;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.WorkloadStats;
import dev.hypha.proxy.metrics.RollingStats;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/** Answers {@code Stats.Get} on the tap port from the proxy's rolling statistics. */
public final class StatsAnswer {
    private StatsAnswer() {
    }

    /** The window in seconds a request asks for (0: the whole minute), checked. */
    public static int windowSeconds(int asked) {
        int w = asked == 0 ? 60 : asked;
        if (w < 10 || w > 60 || w % 10 != 0) {
            throw new IllegalArgumentException("window_seconds " + asked + " is not valid: a multiple of 10 from 10 "
                    + "to 60 (proxies keep the last minute in 10-second buckets)");
        }
        return w;
    }

    public static StatsResponse of(StatsRequest req, RollingStats stats, LongSupplier tcpOpen,
            Supplier<String> identity) {
        int window = windowSeconds(req.getWindowSeconds());
        WorkloadStats.Builder w = WorkloadStats.newBuilder().setPods(1).setMeshedPods(1)
                .setTcpOpenConnections(Math.max(0, tcpOpen.getAsLong()));
        String id = identity.get();
        if (id != null) {
            w.setIdentity(id);
        }
        RollingStats.Window win = stats.window(window / 10);
        for (RollingStats.Snapshot s : win.series()) {
            Series.Builder b = Series.newBuilder().setDirection(direction(s.direction())).setAuthority(s.authority())
                    .setRoute(s.route()).setSuccess(s.success()).setFailure(s.failure())
                    .setActualSuccess(s.actualSuccess()).setActualFailure(s.actualFailure());
            for (long n : s.histogram()) {
                b.addLatencyBuckets(n);
            }
            w.addSeries(b);
        }
        for (RollingStats.EdgeSnapshot e : win.edges()) {
            RollingStats.EdgeKey k = e.edge();
            boolean out = k.direction().equals("outbound");
            Edge.Builder b = Edge.newBuilder().setDirection(direction(k.direction())).setPeerAddress(k.peerAddress())
                    .setSecured(k.secured()).setRequests(e.requests());
            if (k.peerLabels() != null) {
                b.putAllPeerLabels(k.peerLabels());
            }
            if (out) {
                b.setServerIdentity(k.peerIdentity());
                if (id != null && k.secured()) {
                    b.setClientIdentity(id);
                }
            } else {
                b.setClientIdentity(k.peerIdentity());
                if (id != null && k.secured()) {
                    b.setServerIdentity(id);
                }
            }
            w.addEdges(b);
        }
        StatsResponse.Builder r = StatsResponse.newBuilder().setWindowSeconds(window)
                .setSpanMillis(win.spanNanos() / 1_000_000).addWorkloads(w);
        for (long b : RollingStats.BOUNDS_MS) {
            r.addLatencyBoundsMs(b);
        }
        return r.build();
    }

    static Direction direction(String d) {
        return d.equals("inbound") ? Direction.INBOUND : Direction.OUTBOUND;
    }
}
