package dev.hypha.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.Edge;
import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.Resource;
import dev.hypha.api.v1.Series;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.WorkloadStats;
import dev.hypha.inject.Pki;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ServerCalls;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * stat, routes, edges, tap and top as a user runs them, against a stand-in control plane on loopback (real gRPC
 * over real TLS, trusted through the local context file as the demo writes it): each command and format is
 * compared with a golden file in {@code cli/src/test/golden} ({@code -Dhypha.golden.update=true} rewrites them);
 * flags become the right requests; errors become clear messages and exit codes.
 */
class VisibilityCommandsTest {
    static final Path GOLDEN = Path.of(System.getProperty("user.dir")).resolve("src/test/golden");
    static final boolean UPDATE = Boolean.getBoolean("hypha.golden.update");
    static final String CONTROL = "hypha-control.hypha-system.serviceaccount.identity.cluster.local";
    static final String TOKEN = "local-token-123";

    static Server server;
    static Path dir;
    static final List<StatsRequest> statsAsked = new CopyOnWriteArrayList<>();
    static final List<ObserveRequest> tapAsked = new CopyOnWriteArrayList<>();
    static final AtomicReference<Status> failWith = new AtomicReference<>();

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("hypha-viz");
        Pki.Issued root = Pki.root("test root", Instant.now(), Duration.ofDays(1));
        Pki.Issued leaf = Pki.serving(List.of(CONTROL), root, Instant.now(), Duration.ofDays(1));
        Path cert = dir.resolve("tls.crt");
        Path key = dir.resolve("tls.key");
        Files.writeString(cert, Pki.pem("CERTIFICATE", leaf.cert().getEncoded()));
        Files.writeString(key, Pki.pem("PRIVATE KEY", leaf.key().getEncoded()));
        Files.writeString(dir.resolve("token"), TOKEN + "\n");
        Metadata.Key<String> auth = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        ServerInterceptor checkToken = new ServerInterceptor() {
            @Override
            public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata h,
                    io.grpc.ServerCallHandler<Q, R> next) {
                if (!("Bearer " + TOKEN).equals(h.get(auth))) {
                    call.close(Status.UNAUTHENTICATED.withDescription("the token is not this control plane's local "
                            + "token"), new Metadata());
                    return new io.grpc.ServerCall.Listener<>() { };
                }
                return Contexts.interceptCall(io.grpc.Context.current(), call, h, next);
            }
        };
        ServerServiceDefinition stats = ServerServiceDefinition.builder("hypha.api.v1.Stats")
                .addMethod(Rpc.STATS, ServerCalls.asyncUnaryCall((req, out) -> {
                    statsAsked.add(req);
                    Status f = failWith.get();
                    if (f != null) {
                        out.onError(f.asRuntimeException());
                        return;
                    }
                    out.onNext(sample(req));
                    out.onCompleted();
                })).build();
        ServerServiceDefinition tap = ServerServiceDefinition.builder("hypha.api.v1.Tap")
                .addMethod(Rpc.OBSERVE, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    tapAsked.add(req);
                    for (TapEvent e : events()) {
                        out.onNext(e);
                    }
                    out.onCompleted();
                })).build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .sslContext(GrpcSslContexts.configure(SslContextBuilder.forServer(cert.toFile(), key.toFile())).build())
                .addService(ServerInterceptors.intercept(stats, checkToken))
                .addService(ServerInterceptors.intercept(tap, checkToken)).build().start();
        writeContext(dir.resolve("local.json"), Pki.pem("CERTIFICATE", root.cert().getEncoded()), dir.resolve("token"));
        System.setProperty("hypha.local-context", dir.resolve("local.json").toString());
    }

    static void writeContext(Path file, String anchors, Path token) throws Exception {
        Files.writeString(file, "{\"controlAddress\": \"127.0.0.1:" + server.getPort() + "\", \"controlIdentity\": \""
                + CONTROL + "\", \"trustAnchors\": \"" + anchors.replace("\n", "\\n") + "\", \"tokenFile\": \"" + token
                + "\"}");
    }

    @AfterAll
    static void stop() throws Exception {
        System.clearProperty("hypha.local-context");
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    static final List<Long> BOUNDS = List.of(1L, 2L, 3L, 4L, 5L, 10L, 20L, 30L, 40L, 50L, 100L, 200L, 300L, 400L,
            500L, 1000L, 2000L, 3000L, 4000L, 5000L, 10000L, 20000L, 30000L, 40000L, 50000L);

    /** A histogram with {@code n} requests in the bucket whose upper bound is {@code ms}. */
    static List<Long> hist(Object... msAndCount) {
        List<Long> h = new ArrayList<>(java.util.Collections.nCopies(BOUNDS.size() + 1, 0L));
        for (int i = 0; i < msAndCount.length; i += 2) {
            int b = BOUNDS.indexOf(((Number) msAndCount[i]).longValue());
            h.set(b, h.get(b) + ((Number) msAndCount[i + 1]).longValue());
        }
        return h;
    }

    static Resource deploy(String ns, String name) {
        return Resource.newBuilder().setNamespace(ns).setKind("deployment").setName(name).build();
    }

    static String id(String sa) {
        return sa + ".demo.serviceaccount.identity.cluster.local";
    }

    /**
     * A known answer: web served 120 requests on GET /books/{id} (96 ok, 24 failed: 80 %) and 60 on GET / (all ok),
     * sent 90 to books (72 ok; 6 retries made it 81 tries), and called authors; books got traffic from web; an
     * unmeshed pod counts as 0/1.
     */
    static StatsResponse sample(StatsRequest req) {
        String web = "web.demo.svc.cluster.local:8080";
        String books = "books.demo.svc.cluster.local:8080";
        WorkloadStats w = WorkloadStats.newBuilder().setResource(deploy("demo", "web")).setPods(2).setMeshedPods(2)
                .setIdentity(id("web")).setTcpOpenConnections(3)
                .addSeries(Series.newBuilder().setDirection(Direction.INBOUND).setAuthority(web).setRoute("GET /books/{id}")
                        .setSuccess(96).setFailure(24).setActualSuccess(96).setActualFailure(24)
                        .addAllLatencyBuckets(hist(5, 60, 10, 48, 100, 12)))
                .addSeries(Series.newBuilder().setDirection(Direction.INBOUND).setAuthority(web).setRoute("GET /")
                        .setSuccess(60).setActualSuccess(60).addAllLatencyBuckets(hist(20, 60)))
                .addSeries(Series.newBuilder().setDirection(Direction.INBOUND).setAuthority(web).setRoute("[DEFAULT]")
                        .setSuccess(3).setActualSuccess(3).addAllLatencyBuckets(hist(1, 3)))
                .addSeries(Series.newBuilder().setDirection(Direction.OUTBOUND).setAuthority(books)
                        .setRoute("GET /books/{id}").setSuccess(72).setFailure(18).setActualSuccess(72)
                        .setActualFailure(24).addAllLatencyBuckets(hist(4, 45, 5, 27, 50, 18)))
                .addSeries(Series.newBuilder().setDirection(Direction.OUTBOUND).setAuthority(books).setRoute("GET /books"))
                .addEdges(Edge.newBuilder().setDirection(Direction.OUTBOUND).setPeerAddress("10.0.0.7:8080")
                        .putPeerLabels("owner_name", "books").putPeerLabels("namespace", "demo").putPeerLabels("pod", "books-0")
                        .setSecured(true).setClientIdentity(id("web")).setServerIdentity(id("books")).setRequests(90))
                .addEdges(Edge.newBuilder().setDirection(Direction.INBOUND).setPeerAddress("10.0.0.9")
                        .setSecured(true).setClientIdentity(id("traffic")).setServerIdentity(id("web")).setRequests(180))
                .addEdges(Edge.newBuilder().setDirection(Direction.INBOUND).setPeerAddress("10.0.0.11")
                        .setSecured(false).setServerIdentity("").setRequests(3))
                .build();
        WorkloadStats b = WorkloadStats.newBuilder().setResource(deploy("demo", "books")).setPods(1).setMeshedPods(1)
                .setIdentity(id("books")).setTcpOpenConnections(1)
                .addSeries(Series.newBuilder().setDirection(Direction.INBOUND).setAuthority(books)
                        .setRoute("GET /books/{id}").setSuccess(72).setFailure(24).setActualSuccess(72).setActualFailure(24)
                        .addAllLatencyBuckets(hist(2, 90, 3, 6)))
                .addEdges(Edge.newBuilder().setDirection(Direction.INBOUND).setPeerAddress("10.0.0.5").setSecured(true)
                        .setClientIdentity(id("web")).setServerIdentity(id("books")).setRequests(96))
                .build();
        WorkloadStats legacy = WorkloadStats.newBuilder().setResource(deploy("other", "legacy")).setPods(1)
                .setMeshedPods(0).build();
        int window = req.getWindowSeconds() == 0 ? 60 : req.getWindowSeconds();
        // the counts cover the window and 4 s of the current bucket: rates divide by 64 s (34 s for --window 30s)
        StatsResponse.Builder r = StatsResponse.newBuilder().setWindowSeconds(window).setSpanMillis(window * 1000L + 4000)
                .addAllLatencyBoundsMs(BOUNDS);
        for (WorkloadStats x : req.getTarget().getAllNamespaces() ? List.of(w, b, legacy) : List.of(w, b)) {
            if (req.getTarget().getName().isEmpty() || req.getTarget().getName().equals(x.getResource().getName())) {
                r.addWorkloads(x); // as the control plane selects: a named resource answers alone
            }
        }
        return r.build();
    }

    static List<TapEvent> events() {
        String books = "books.demo.svc.cluster.local:8080";
        TapEvent base = TapEvent.newBuilder().setProxy("demo/web-0").setDirection(Direction.OUTBOUND)
                .setSource("127.0.0.1:51000").setDestination("10.0.0.7:8080").setTls(true)
                .setClientIdentity(id("web")).setServerIdentity(id("books")).setRoute("GET /books/{id}")
                .putDestinationLabels("pod", "books-0").build();
        TapEvent in = base.toBuilder().setProxy("demo/web-1").setDirection(Direction.INBOUND).setSource("10.0.0.9:40000")
                .setDestination("127.0.0.1:8080").setClientIdentity(id("traffic")).setServerIdentity(id("web"))
                .setRoute("GET /").clearDestinationLabels().build();
        List<TapEvent> out = new ArrayList<>();
        out.add(base.toBuilder().setRequestInit(TapEvent.RequestInit.newBuilder().setId(7).setMethod("GET")
                .setScheme("http").setAuthority(books).setPath("/books/7")).build());
        out.add(in.toBuilder().setRequestInit(TapEvent.RequestInit.newBuilder().setId(3).setMethod("GET")
                .setScheme("http").setAuthority("web.demo.svc.cluster.local:8080").setPath("/")).build());
        out.add(base.toBuilder().setResponseInit(TapEvent.ResponseInit.newBuilder().setId(7).setHttpStatus(500)
                .setSinceRequestInitMicros(1830)).build());
        out.add(base.toBuilder().setResponseEnd(TapEvent.ResponseEnd.newBuilder().setId(7).setSinceRequestInitMicros(2100)
                .setSinceResponseInitMicros(270).setResponseBytes(36).setGrpcStatus(-1)).build());
        out.add(in.toBuilder().setResponseInit(TapEvent.ResponseInit.newBuilder().setId(3).setHttpStatus(200)
                .setSinceRequestInitMicros(25400)).build());
        out.add(in.toBuilder().setResponseEnd(TapEvent.ResponseEnd.newBuilder().setId(3).setSinceRequestInitMicros(26000)
                .setSinceResponseInitMicros(600).setResponseBytes(129).setGrpcStatus(-1).setSuccess(true)).build());
        out.add(base.toBuilder().setRequestInit(TapEvent.RequestInit.newBuilder().setId(8).setMethod("POST")
                .setScheme("http").setAuthority(books).setPath("/grpc.Books/Get")).build());
        out.add(base.toBuilder().setResponseEnd(TapEvent.ResponseEnd.newBuilder().setId(8).setSinceRequestInitMicros(900)
                .setResponseBytes(0).setGrpcStatus(5).setProxyError("").setResetError("")).build());
        out.add(base.toBuilder().setRequestInit(TapEvent.RequestInit.newBuilder().setId(9).setMethod("GET")
                .setScheme("http").setAuthority(books).setPath("/books/9")).build());
        out.add(base.toBuilder().setResponseEnd(TapEvent.ResponseEnd.newBuilder().setId(9).setSinceRequestInitMicros(1500)
                .setGrpcStatus(-1).setResetError("reset")).build());
        out.add(base.toBuilder().setRequestInit(TapEvent.RequestInit.newBuilder().setId(10).setMethod("GET")
                .setScheme("http").setAuthority(books).setPath("/books/7?x=1")).build());
        out.add(base.toBuilder().setResponseEnd(TapEvent.ResponseEnd.newBuilder().setId(10).setSinceRequestInitMicros(1200)
                .setSinceResponseInitMicros(100).setResponseBytes(30).setGrpcStatus(-1).setSuccess(true)).build());
        return out;
    }

    record Run(int code, String out, String err) {
    }

    static Run hypha(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Hypha.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Run(code, out.toString(), err.toString());
    }

    static void golden(String name, String actual) throws Exception {
        Path f = GOLDEN.resolve(name);
        if (UPDATE) {
            Files.writeString(f, actual);
        }
        assertEquals(Files.readString(f), actual, "output differs from " + f + " (after review: "
                + "-Dhypha.golden.update=true)");
    }

    static Run ok(String... args) {
        Run r = hypha(args);
        assertEquals(0, r.code(), r.err());
        return r;
    }

    @Test
    void statInEveryFormat() throws Exception {
        golden("stat.txt", ok("stat", "deploy", "-n", "demo", "--local").out());
        golden("stat.json", ok("stat", "deploy", "-n", "demo", "--local", "-o", "json").out());
        golden("stat-all-namespaces.txt", ok("stat", "deploy", "-A", "--local").out());
        StatsRequest all = statsAsked.get(statsAsked.size() - 1);
        assertTrue(all.getTarget().getAllNamespaces());
        assertEquals("deployment", all.getTarget().getKind());
        golden("stat-to.txt", ok("stat", "deploy/web", "-n", "demo", "--to", "svc/books", "--local", "--window",
                "30s").out());
        StatsRequest to = statsAsked.get(statsAsked.size() - 1);
        assertEquals(Resource.newBuilder().setNamespace("demo").setKind("service").setName("books").build(), to.getTo());
        assertEquals(deploy("demo", "web"), to.getTarget());
        assertEquals(30, to.getWindowSeconds());
    }

    @Test
    void routesInEveryFormat() throws Exception {
        golden("routes.txt", ok("routes", "deploy/web", "-n", "demo", "--local").out());
        golden("routes-wide.txt", ok("routes", "deploy/web", "-n", "demo", "--local", "-o", "wide").out());
        golden("routes.json", ok("routes", "deploy/web", "-n", "demo", "--local", "-o", "json").out());
        golden("routes-to.txt", ok("routes", "deploy/web", "-n", "demo", "--to", "svc/books", "--local").out());
        // effective (what web saw: 72 of 90) apart from actual (every try: 72 of 96)
        golden("routes-to-wide.txt", ok("routes", "deploy/web", "-n", "demo", "--to", "svc/books", "--local", "-o",
                "wide").out());
    }

    @Test
    void edgesInEveryFormat() throws Exception {
        golden("edges.txt", ok("edges", "deploy", "-n", "demo", "--local").out());
        golden("edges-wide.txt", ok("edges", "deploy", "-n", "demo", "--local", "-o", "wide").out());
        golden("edges.json", ok("edges", "deploy", "-n", "demo", "--local", "-o", "json").out());
    }

    @Test
    void tapInEveryFormatAndItsFlags() throws Exception {
        golden("tap.txt", ok("tap", "deploy/web", "-n", "demo", "--local").out());
        golden("tap-wide.txt", ok("tap", "deploy/web", "-n", "demo", "--local", "-o", "wide").out());
        golden("tap.json", ok("tap", "deploy/web", "-n", "demo", "--local", "-o", "json").out());
        ok("tap", "po/web-0", "-n", "demo", "--to", "deploy/books", "--method", "get", "--path", "/books",
                "--authority", "books.demo.svc.cluster.local", "--direction", "outbound", "--max-rps", "7", "--local");
        ObserveRequest q = tapAsked.get(tapAsked.size() - 1);
        assertEquals(Resource.newBuilder().setNamespace("demo").setKind("pod").setName("web-0").build(), q.getTarget());
        assertEquals(deploy("demo", "books"), q.getTo());
        assertEquals("GET", q.getFilter().getMethod());
        assertEquals("/books", q.getFilter().getPathPrefix());
        assertEquals(List.of("books.demo.svc.cluster.local"), q.getFilter().getAuthoritiesList());
        assertEquals(Direction.OUTBOUND, q.getFilter().getDirection());
        assertEquals(7, q.getMaxRps());
    }

    @Test
    void topGroupsRequestsByPath() throws Exception {
        golden("top.txt", ok("top", "deploy/web", "-n", "demo", "--local").out());
    }

    @Test
    void everyCommandHasHelp() {
        for (String c : List.of("stat", "routes", "edges", "tap", "top", "inject", "check")) {
            Run r = hypha(c, "--help");
            assertEquals(0, r.code(), c + ": " + r.err());
            assertTrue(r.out().startsWith("Usage: hypha " + c), r.out());
        }
    }

    @Test
    void badInputAndRefusalsAreClearWithExitCodes() throws Exception {
        Run badKind = hypha("stat", "widgets/x", "--local");
        assertEquals(2, badKind.code());
        assertTrue(badKind.err().contains("'widgets' is not a resource kind: expected one of namespace (ns), "
                + "deployment (deploy)"), badKind.err());
        Run badWindow = hypha("routes", "deploy/web", "--window", "45s", "--local");
        assertEquals(2, badWindow.code());
        assertTrue(badWindow.err().contains("--window 45s is not valid"), badWindow.err());
        Run badFormat = hypha("edges", "deploy", "-o", "yaml", "--local");
        assertEquals(2, badFormat.code());
        Run badRps = hypha("tap", "deploy/web", "--max-rps", "0", "--local");
        assertEquals(2, badRps.code());
        assertTrue(badRps.err().contains("--max-rps 0 is not valid"), badRps.err());
        Run badPath = hypha("tap", "deploy/web", "--path", "books", "--local");
        assertEquals(2, badPath.code());

        failWith.set(Status.NOT_FOUND.withDescription("deployment nope not found in namespace demo (no pods)"));
        try {
            Run missing = hypha("stat", "deploy/nope", "-n", "demo", "--local");
            assertEquals(1, missing.code());
            assertEquals("hypha stat: deployment nope not found in namespace demo (no pods)\n", missing.err());
            failWith.set(Status.FAILED_PRECONDITION.withDescription("deployment legacy is not meshed (1 pod(s), none "
                    + "runs hypha-proxy): inject it first"));
            Run unmeshed = hypha("routes", "deploy/legacy", "-n", "demo", "--local");
            assertEquals(1, unmeshed.code());
            assertTrue(unmeshed.err().contains("is not meshed"), unmeshed.err());
        } finally {
            failWith.set(null);
        }

        Path wrong = dir.resolve("wrong-token");
        Files.writeString(wrong, "not-the-token");
        Path ctx = dir.resolve("wrong.json");
        writeContext(ctx, Files.readString(dir.resolve("local.json")).replaceAll("(?s).*\"trustAnchors\": \"", "")
                .replaceAll("(?s)\", \"tokenFile\".*", "").replace("\\n", "\n"), wrong);
        System.setProperty("hypha.local-context", ctx.toString());
        try {
            Run refused = hypha("tap", "deploy/web", "-n", "demo", "--local");
            assertEquals(1, refused.code());
            assertTrue(refused.err().contains("the token is not this control plane's local token"), refused.err());
        } finally {
            System.setProperty("hypha.local-context", dir.resolve("local.json").toString());
        }
        System.setProperty("hypha.local-context", dir.resolve("absent.json").toString());
        try {
            Run noDemo = hypha("stat", "deploy", "--local");
            assertEquals(1, noDemo.code());
            assertTrue(noDemo.err().contains("no local mesh: ") && noDemo.err().contains("./hypha demo"), noDemo.err());
        } finally {
            System.setProperty("hypha.local-context", dir.resolve("local.json").toString());
        }
    }
}
