package dev.hypha.proxy.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.Series;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.TapFilter;
import dev.hypha.api.v1.WorkloadStats;
import dev.hypha.proxy.Proxy;
import dev.hypha.proxy.testing.Http;
import dev.hypha.proxy.testing.Cmd;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TapClient;
import dev.hypha.proxy.testing.TestPki;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tap port of real proxies: a client proving the control plane's identity opens taps and reads statistics;
 * requests crossing the mesh as HTTP/1.1, HTTP/2 and gRPC produce request, response and end events with the right
 * fields; filters select; the rate limit holds; any other identity is refused.
 */
class TapThroughMeshTest {
    static final String CONTROL = "hypha-control.hypha-system.serviceaccount.identity.cluster.local";
    @TempDir
    static Path dir;
    static HttpBackend app;
    static Server grpcApp;
    static Mesh mesh;
    static TestPki.Identity control;
    static TapClient clientTap;
    static TapClient serverTap;

    @BeforeAll
    static void start() throws Exception {
        app = new HttpBackend();
        grpcApp = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Greeter())
                .build().start();
        mesh = Mesh.start(dir, new int[] {app.port(), grpcApp.getPort()}, new Mesh.Options());
        control = mesh.pki.issue(CONTROL, dir.resolve("control"));
        clientTap = new TapClient(mesh.client.tapAddress().getPort(), control, Mesh.ID_A);
        serverTap = new TapClient(mesh.server.tapAddress().getPort(), control, Mesh.ID_B);
    }

    @AfterAll
    static void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {clientTap, serverTap, mesh, app}) {
            if (c != null) {
                c.close();
            }
        }
        if (grpcApp != null) {
            grpcApp.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    static String authority() {
        return "svc.test:" + app.port();
    }

    static TapClient.Observation open(TapClient c, Proxy p, ObserveRequest req) throws Exception {
        int before = p.runtime().metrics().taps.openCount();
        TapClient.Observation o = c.observe(req);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (p.runtime().metrics().taps.openCount() == before) {
            assertFalse(o.ended.isDone(), () -> "tap ended: " + o.ended.join());
            assertTrue(System.nanoTime() < deadline, "the tap did not open in 10 s");
            Thread.sleep(5);
        }
        return o;
    }

    static void awaitClosed(Proxy p) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (p.runtime().metrics().taps.openCount() != 0) {
            assertTrue(System.nanoTime() < deadline, "the tap was not removed after its call ended");
            Thread.sleep(5);
        }
    }

    /** The three events of one request, in order. */
    static List<TapEvent> three(TapClient.Observation o) throws Exception {
        List<TapEvent> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            TapEvent e = o.next(10_000);
            assertNotNull(e, "expected 3 events of one request, got " + out);
            out.add(e);
        }
        assertTrue(out.get(0).hasRequestInit(), out.toString());
        assertTrue(out.get(1).hasResponseInit(), out.toString());
        assertTrue(out.get(2).hasResponseEnd(), out.toString());
        long id = out.get(0).getRequestInit().getId();
        assertEquals(id, out.get(1).getResponseInit().getId());
        assertEquals(id, out.get(2).getResponseEnd().getId());
        return out;
    }

    @Test
    void http1RequestsShowOnBothSidesWithTheirFields() throws Exception {
        try (TapClient.Observation out = open(clientTap, mesh.client, ObserveRequest.getDefaultInstance());
                TapClient.Observation in = open(serverTap, mesh.server, ObserveRequest.getDefaultInstance())) {
            assertEquals(503, Http.rawGet(mesh.outboundPort(), authority(), "/status/503"));
            List<TapEvent> o = three(out);
            TapEvent req = o.get(0);
            assertEquals(Direction.OUTBOUND, req.getDirection());
            assertEquals("GET", req.getRequestInit().getMethod());
            assertEquals("/status/503", req.getRequestInit().getPath());
            assertEquals(authority(), req.getRequestInit().getAuthority());
            assertEquals("http", req.getRequestInit().getScheme());
            assertTrue(req.getTls());
            assertEquals(Mesh.ID_B, req.getServerIdentity(), "outbound: the identity the server proved");
            assertEquals("[DEFAULT]", req.getRoute());
            assertEquals("127.0.0.1:" + mesh.server.inboundAddress().getPort(), req.getDestination());
            assertEquals(503, o.get(1).getResponseInit().getHttpStatus());
            TapEvent.ResponseEnd end = o.get(2).getResponseEnd();
            assertFalse(end.getSuccess(), "a 503 is a failure");
            assertEquals(-1, end.getGrpcStatus());
            assertTrue(end.getSinceRequestInitMicros() >= o.get(1).getResponseInit().getSinceRequestInitMicros());
            assertEquals("", end.getProxyError());

            List<TapEvent> i = three(in);
            assertEquals(Direction.INBOUND, i.get(0).getDirection());
            assertEquals(Mesh.ID_A, i.get(0).getClientIdentity(), "inbound: the identity the client proved");
            assertEquals(Mesh.ID_B, i.get(0).getServerIdentity());
            assertTrue(i.get(0).getTls());
            assertEquals("127.0.0.1:" + app.port(), i.get(0).getDestination());
            assertEquals(503, i.get(1).getResponseInit().getHttpStatus());
            assertTrue(i.get(2).getResponseEnd().getResponseBytes() >= 0);
        }
        awaitClosed(mesh.client);
        awaitClosed(mesh.server);
    }

    @Test
    void http2RequestsAreTappedWithBodyBytes() throws Exception {
        try (TapClient.Observation out = open(clientTap, mesh.client, ObserveRequest.getDefaultInstance())) {
            Cmd.Result r = Cmd.run(30, "curl", "-sS", "--http2-prior-knowledge", "--max-time", "20", "-o", "/dev/null",
                    "-w", "%{http_version} %{http_code}", "--connect-to",
                    authority() + ":127.0.0.1:" + mesh.outboundPort(), "-d", "x".repeat(100),
                    "http://" + authority() + "/h2/echo?x=1");
            assertEquals("2 200", r.out().trim(), r.err());
            List<TapEvent> o = three(out);
            assertEquals("POST", o.get(0).getRequestInit().getMethod());
            assertEquals("/h2/echo?x=1", o.get(0).getRequestInit().getPath());
            assertEquals(200, o.get(1).getResponseInit().getHttpStatus());
            assertEquals(100, o.get(2).getResponseEnd().getResponseBytes(), "the echoed body");
            assertTrue(o.get(2).getResponseEnd().getSuccess());
        }
        awaitClosed(mesh.client);
    }

    @Test
    void grpcCallsCarryTheirGrpcStatus() throws Exception {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", mesh.outboundPort())
                .overrideAuthority("svc.test:" + grpcApp.getPort()).usePlaintext().build();
        try (TapClient.Observation out = open(clientTap, mesh.client, ObserveRequest.getDefaultInstance())) {
            var stub = SimpleServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
            assertEquals("hello x", stub.unaryRpc(SimpleRequest.newBuilder().setRequestMessage("x").build())
                    .getResponseMessage());
            List<TapEvent> ok = three(out);
            assertEquals("/grpc.testing.SimpleService/UnaryRpc", ok.get(0).getRequestInit().getPath());
            assertEquals(0, ok.get(2).getResponseEnd().getGrpcStatus());
            assertTrue(ok.get(2).getResponseEnd().getSuccess());
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> stub.unaryRpc(SimpleRequest.newBuilder().setRequestMessage("fail").build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            List<TapEvent> bad = three(out);
            assertEquals(200, bad.get(1).getResponseInit().getHttpStatus());
            assertEquals(Status.Code.FAILED_PRECONDITION.value(), bad.get(2).getResponseEnd().getGrpcStatus());
            assertFalse(bad.get(2).getResponseEnd().getSuccess());
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        awaitClosed(mesh.client);
    }

    @Test
    void filtersSelectRequests() throws Exception {
        ObserveRequest onlyBooks = ObserveRequest.newBuilder().setFilter(TapFilter.newBuilder().setPathPrefix("/books")
                .setMethod("GET").addAuthorities("svc.test")).build();
        ObserveRequest otherAuthority = ObserveRequest.newBuilder().setFilter(TapFilter.newBuilder()
                .addAuthorities("elsewhere.test")).build();
        ObserveRequest inboundOnly = ObserveRequest.newBuilder().setFilter(TapFilter.newBuilder()
                .setDirection(Direction.INBOUND)).build();
        try (TapClient.Observation books = open(clientTap, mesh.client, onlyBooks);
                TapClient.Observation none = open(clientTap, mesh.client, otherAuthority);
                TapClient.Observation inbound = open(clientTap, mesh.client, inboundOnly)) {
            assertEquals(200, Http.rawGet(mesh.outboundPort(), authority(), "/authors/1"));
            assertEquals(200, Http.rawGet(mesh.outboundPort(), authority(), "/books/1"));
            List<TapEvent> b = three(books);
            assertEquals("/books/1", b.get(0).getRequestInit().getPath(), "only the /books request matches");
            assertNull(books.next(300), "nothing else matches the path prefix");
            assertNull(none.next(50), "another authority matches nothing");
            assertNull(inbound.next(50), "the client proxy saw no inbound requests");
        }
        awaitClosed(mesh.client);
    }

    @Test
    void maxRpsIsHonoured() throws Exception {
        int maxRps = 5;
        int sent = 60;
        try (TapClient.Observation o = open(clientTap, mesh.client, ObserveRequest.newBuilder().setMaxRps(maxRps)
                .build())) {
            long t0 = System.nanoTime();
            for (int i = 0; i < sent; i++) {
                assertEquals(200, Http.rawGet(mesh.outboundPort(), authority(), "/r/" + i));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Thread.sleep(300);
            int requests = 0;
            TapEvent e;
            while ((e = o.next(100)) != null) {
                if (e.hasRequestInit()) {
                    requests++;
                }
            }
            // a fixed one-second window: the sending spanned at most ceil(seconds) + 1 windows
            long bound = (long) maxRps * ((long) Math.ceil(seconds) + 1);
            assertTrue(requests >= maxRps && requests <= bound, requests + " requests tapped of " + sent + " in "
                    + seconds + " s at max_rps " + maxRps + " (bound " + bound + ")");
            assertTrue(bound < sent, "the load was not fast enough to exercise the limit: " + seconds + " s");
        }
        awaitClosed(mesh.client);
    }

    @Test
    void onlyTheControlPlaneIdentityMayTap() throws Exception {
        double before = errors("tap_identity_refused");
        // a proxy's own identity (mesh.b), on two channels (two handshakes: grpc-java fails fast after one refusal)
        try (TapClient stranger = new TapClient(mesh.client.tapAddress().getPort(), mesh.b, Mesh.ID_A);
                TapClient stranger2 = new TapClient(mesh.client.tapAddress().getPort(), mesh.b, Mesh.ID_A)) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> stranger.stats(StatsRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
            TapClient.Observation o = stranger2.observe(ObserveRequest.getDefaultInstance());
            Throwable t = o.ended.get(10, TimeUnit.SECONDS);
            assertInstanceOf(StatusRuntimeException.class, t);
        }
        assertEquals(0, mesh.client.runtime().metrics().taps.openCount());
        double after = errors("tap_identity_refused");
        assertTrue(after >= before + 2, "refusals are counted: " + before + " before, " + after + " after");
    }

    @Test
    void statsOfAKnownLoadAreExact() throws Exception {
        String auth = "svc.test:" + app.port();
        StatsResponse before = clientTap.stats(StatsRequest.newBuilder().setWindowSeconds(60).build());
        long okBefore = count(before, auth, true);
        long badBefore = count(before, auth, false);
        for (int i = 0; i < 25; i++) {
            assertEquals(i % 5 == 0 ? 500 : 200,
                    Http.rawGet(mesh.outboundPort(), auth, i % 5 == 0 ? "/status/500" : "/s/" + i));
        }
        StatsResponse after = clientTap.stats(StatsRequest.newBuilder().setWindowSeconds(60).build());
        assertEquals(60, after.getWindowSeconds());
        assertEquals(20, count(after, auth, true) - okBefore, after.toString());
        assertEquals(5, count(after, auth, false) - badBefore, after.toString());
        WorkloadStats w = after.getWorkloads(0);
        assertEquals(Mesh.ID_A, w.getIdentity());
        assertTrue(w.getEdgesList().stream().anyMatch(e -> e.getDirection() == Direction.OUTBOUND && e.getSecured()
                && e.getServerIdentity().equals(Mesh.ID_B) && e.getClientIdentity().equals(Mesh.ID_A)),
                w.getEdgesList().toString());
        // a 10-second window holds the whole bucket before the current one as well, so a bucket boundary passing
        // between the requests and this query loses nothing (it was the current bucket only before, and came back
        // empty then); its span says how long it covered
        StatsResponse server = serverTap.stats(StatsRequest.newBuilder().setWindowSeconds(10).build());
        assertTrue(server.getSpanMillis() >= 10_000 && server.getSpanMillis() < 20_000, server.toString());
        assertTrue(server.getWorkloads(0).getEdgesList().stream().anyMatch(e -> e.getDirection() == Direction.INBOUND
                && e.getSecured() && e.getClientIdentity().equals(Mesh.ID_A)), server.toString());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> clientTap.stats(StatsRequest.newBuilder().setWindowSeconds(15).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("multiple of 10"), e.getStatus().getDescription());
    }

    static long count(StatsResponse r, String authority, boolean success) {
        long n = 0;
        for (Series s : r.getWorkloads(0).getSeriesList()) {
            if (s.getDirection() == Direction.OUTBOUND && s.getAuthority().equals(authority)) {
                n += success ? s.getSuccess() : s.getFailure();
            }
        }
        return n;
    }

    static double errors(String reason) throws Exception {
        String m = mesh.metrics(mesh.client);
        double sum = 0;
        for (String l : m.split("\n")) {
            if (l.startsWith("hypha_proxy_errors_total{") && l.contains("reason=\"" + reason + "\"")) {
                sum += Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    static final class Greeter extends SimpleServiceGrpc.SimpleServiceImplBase {
        @Override
        public void unaryRpc(SimpleRequest req, StreamObserver<SimpleResponse> out) {
            if (req.getRequestMessage().equals("fail")) {
                out.onError(Status.FAILED_PRECONDITION.withDescription("asked to fail").asRuntimeException());
                return;
            }
            out.onNext(SimpleResponse.newBuilder().setResponseMessage("hello " + req.getRequestMessage()).build());
            out.onCompleted();
        }
    }
}
