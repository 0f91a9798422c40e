package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.testing.Mesh;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.Context;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real grpc-java client and server with the proxy pair between them (all four call kinds, deadlines, cancel). */
class GrpcThroughMeshTest {
    @TempDir
    static Path dir;
    static Server server;
    static Mesh mesh;
    static ManagedChannel channel;
    static final AtomicReference<String> lastClientId = new AtomicReference<>();
    static final CountDownLatch slowCancelled = new CountDownLatch(1);
    static final CountDownLatch slowArrived = new CountDownLatch(1);
    static final CountDownLatch streamCancelled = new CountDownLatch(1);
    static final java.util.concurrent.atomic.AtomicLong floodSent = new java.util.concurrent.atomic.AtomicLong();
    static final java.util.concurrent.atomic.AtomicBoolean floodStop = new java.util.concurrent.atomic.AtomicBoolean();

    @BeforeAll
    static void start() throws Exception {
        Metadata.Key<String> clientId = Metadata.Key.of("hypha-client-id", Metadata.ASCII_STRING_MARSHALLER);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(io.grpc.ServerInterceptors.intercept(new Service(), new ServerInterceptor() {
                    @Override
                    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                            ServerCallHandler<Q, R> next) {
                        lastClientId.set(headers.get(clientId));
                        return next.startCall(call, headers);
                    }
                }))
                .build().start();
        mesh = Mesh.start(dir, new int[] {server.getPort()}, new Mesh.Options());
        channel = NettyChannelBuilder.forAddress("127.0.0.1", mesh.outboundPort())
                .overrideAuthority("svc.test:" + server.getPort()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (mesh != null) {
            mesh.close();
        }
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    static final class Service extends SimpleServiceGrpc.SimpleServiceImplBase {
        @Override
        public void unaryRpc(SimpleRequest req, StreamObserver<SimpleResponse> out) {
            String m = req.getRequestMessage();
            if (m.startsWith("sleep")) {
                slowArrived.countDown();
                Context.current().addListener(c -> slowCancelled.countDown(), Runnable::run);
                return; // never answers: the client's deadline must end it
            }
            if (m.equals("fail")) {
                out.onError(Status.FAILED_PRECONDITION.withDescription("asked to fail").asRuntimeException());
                return;
            }
            out.onNext(SimpleResponse.newBuilder().setResponseMessage("hello " + m).build());
            out.onCompleted();
        }

        @Override
        public void serverStreamingRpc(SimpleRequest req, StreamObserver<SimpleResponse> out) {
            if (req.getRequestMessage().equals("flood")) {
                // Sends as fast as flow control lets it: isReady() turns false when the transport is backed up.
                io.grpc.stub.ServerCallStreamObserver<SimpleResponse> so =
                        (io.grpc.stub.ServerCallStreamObserver<SimpleResponse>) out;
                SimpleResponse chunk = SimpleResponse.newBuilder().setResponseMessage("x".repeat(16 * 1024)).build();
                so.setOnReadyHandler(() -> {
                    while (so.isReady() && !floodStop.get()) {
                        so.onNext(chunk);
                        floodSent.addAndGet(16 * 1024);
                    }
                    if (floodStop.get()) {
                        so.onCompleted();
                    }
                });
                return;
            }
            if (req.getRequestMessage().equals("forever")) {
                Context.current().addListener(c -> streamCancelled.countDown(), Runnable::run);
                out.onNext(SimpleResponse.newBuilder().setResponseMessage("first").build());
                return;
            }
            int n = Integer.parseInt(req.getRequestMessage());
            for (int i = 0; i < n; i++) {
                out.onNext(SimpleResponse.newBuilder().setResponseMessage("item " + i).build());
            }
            out.onCompleted();
        }

        @Override
        public StreamObserver<SimpleRequest> clientStreamingRpc(StreamObserver<SimpleResponse> out) {
            return new StreamObserver<>() {
                final StringBuilder sb = new StringBuilder();

                @Override
                public void onNext(SimpleRequest r) {
                    sb.append(r.getRequestMessage());
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    out.onNext(SimpleResponse.newBuilder().setResponseMessage(sb.toString()).build());
                    out.onCompleted();
                }
            };
        }

        @Override
        public StreamObserver<SimpleRequest> bidiStreamingRpc(StreamObserver<SimpleResponse> out) {
            return new StreamObserver<>() {
                @Override
                public void onNext(SimpleRequest r) {
                    out.onNext(SimpleResponse.newBuilder().setResponseMessage("re: " + r.getRequestMessage()).build());
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    out.onCompleted();
                }
            };
        }
    }

    static SimpleRequest req(String m) {
        return SimpleRequest.newBuilder().setRequestMessage(m).build();
    }

    @Test
    void unary() {
        SimpleResponse r = SimpleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .unaryRpc(req("mesh"));
        assertEquals("hello mesh", r.getResponseMessage());
        assertEquals(Mesh.ID_A, lastClientId.get());
    }

    @Test
    void errorStatusAndMessageCrossTheMesh() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
                SimpleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).unaryRpc(req("fail")));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        assertEquals("asked to fail", e.getStatus().getDescription());
    }

    @Test
    void serverStreaming() {
        Iterator<SimpleResponse> it = SimpleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .serverStreamingRpc(req("500"));
        int n = 0;
        while (it.hasNext()) {
            assertEquals("item " + n, it.next().getResponseMessage());
            n++;
        }
        assertEquals(500, n);
    }

    @Test
    void clientStreaming() throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<String> result = new AtomicReference<>();
        StreamObserver<SimpleRequest> in = SimpleServiceGrpc.newStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .clientStreamingRpc(observer(result, done));
        for (int i = 0; i < 100; i++) {
            in.onNext(req(Integer.toString(i % 10)));
        }
        in.onCompleted();
        assertTrue(done.await(10, TimeUnit.SECONDS));
        assertEquals("0123456789".repeat(10), result.get());
    }

    @Test
    void bidiStreaming() throws Exception {
        List<String> got = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        StreamObserver<SimpleRequest> in = SimpleServiceGrpc.newStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .bidiStreamingRpc(new StreamObserver<>() {
                    @Override
                    public void onNext(SimpleResponse v) {
                        synchronized (got) {
                            got.add(v.getResponseMessage());
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        for (int i = 0; i < 50; i++) {
            in.onNext(req("m" + i));
        }
        in.onCompleted();
        assertTrue(done.await(10, TimeUnit.SECONDS));
        assertEquals(50, got.size());
        assertEquals("re: m49", got.get(49));
    }

    @Test
    void deadlineExceededReachesTheServerAsCancellation() throws Exception {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
                SimpleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(1000, TimeUnit.MILLISECONDS)
                        .unaryRpc(req("sleep")));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
        assertTrue(slowArrived.await(10, TimeUnit.SECONDS), "the call never reached the server");
        assertTrue(slowCancelled.await(10, TimeUnit.SECONDS), "the server never learned the call was over");
    }

    @Test
    void clientCancellationReachesTheServer() throws Exception {
        io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
        CountDownLatch first = new CountDownLatch(1);
        ctx.run(() -> SimpleServiceGrpc.newStub(channel).serverStreamingRpc(req("forever"), new StreamObserver<>() {
            @Override
            public void onNext(SimpleResponse v) {
                first.countDown();
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
            }
        }));
        assertTrue(first.await(10, TimeUnit.SECONDS));
        ctx.cancel(null);
        assertTrue(streamCancelled.await(10, TimeUnit.SECONDS), "RST_STREAM did not travel through both proxies");
    }

    @Test
    void aSlowReaderSlowsItsWriterThroughBothProxies() throws Exception {
        floodSent.set(0);
        floodStop.set(false);
        java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
        AtomicReference<io.grpc.stub.ClientCallStreamObserver<SimpleRequest>> call = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        SimpleServiceGrpc.newStub(channel).serverStreamingRpc(req("flood"),
                new io.grpc.stub.ClientResponseObserver<SimpleRequest, SimpleResponse>() {
                    @Override
                    public void beforeStart(io.grpc.stub.ClientCallStreamObserver<SimpleRequest> r) {
                        call.set(r);
                        r.disableAutoRequestWithInitial(1); // the app reads one message, then stops reading
                    }

                    @Override
                    public void onNext(SimpleResponse v) {
                        received.addAndGet(v.getResponseMessage().length());
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        // Let the writer run against a reader that does not read.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long last = -1;
        while (System.nanoTime() < deadline) {
            Thread.sleep(500);
            long now = floodSent.get();
            if (now == last && now > 0) {
                break; // the writer is stalled
            }
            last = now;
        }
        long stalledAt = floodSent.get();
        System.out.println("flood: writer stalled after " + stalledAt + " bytes");
        Thread.sleep(1000);
        assertEquals(stalledAt, floodSent.get(), "the writer must stay stalled while nobody reads");
        // Windows and socket buffers of three hops hold a few MiB at most; without backpressure this is unbounded.
        assertTrue(stalledAt < 8L * 1024 * 1024, "the server wrote " + stalledAt + " bytes to a reader that reads nothing");
        // The reader reads again: everything arrives and the writer resumes.
        floodStop.set(true);
        call.get().request(Integer.MAX_VALUE);
        assertTrue(done.await(20, TimeUnit.SECONDS), "stream did not finish after the reader resumed");
        assertEquals(floodSent.get(), received.get(), "every byte written reached the reader");
    }

    @Test
    void aProfileClassifiesGrpcByStatusAndCountsRoutesByMethod(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        try (dev.hypha.proxy.testing.FakeDestinationServer control = new dev.hypha.proxy.testing.FakeDestinationServer()) {
            String svc = "svc.test:" + server.getPort();
            control.profiles.put(svc, dev.hypha.api.v1.DestinationProfile.newBuilder()
                    .addRoutes(dev.hypha.api.v1.Route.newBuilder().setName("UnaryRpc").setCondition(
                            dev.hypha.api.v1.RequestMatch.newBuilder().setPathRegex("/grpc\\.testing\\.SimpleService/UnaryRpc")))
                    .build());
            try (Mesh m = Mesh.start(tmp, new int[] {server.getPort()}, new Mesh.Options()
                    .client(dev.hypha.proxy.config.ConfigParser.DESTINATION_ADDR, "127.0.0.1:" + control.port())
                    .client(dev.hypha.proxy.config.ConfigParser.CONTROL_PLAINTEXT, "true"))) {
                ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", m.outboundPort())
                        .overrideAuthority(svc).usePlaintext().build();
                try {
                    var stub = SimpleServiceGrpc.newBlockingStub(ch);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (System.nanoTime() < deadline && !m.metrics(m.client).contains("route=\"UnaryRpc\"")) {
                        stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(req("warm"));
                        Thread.sleep(20);
                    }
                    for (int i = 0; i < 3; i++) {
                        stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(req("ok"));
                        assertThrows(StatusRuntimeException.class,
                                () -> stub.withDeadlineAfter(5, TimeUnit.SECONDS).unaryRpc(req("fail")));
                        var it = stub.withDeadlineAfter(5, TimeUnit.SECONDS).serverStreamingRpc(req("2"));
                        it.forEachRemaining(x -> { });
                    }
                    String metrics = m.metrics(m.client);
                    String a = "direction=\"outbound\",authority=\"" + svc + "\"";
                    assertTrue(metrics.contains("hypha_route_responses_total{" + a + ",route=\"UnaryRpc\",status_code=\"200\","
                            + "classification=\"failure\"} 3"), "grpc-status decides over HTTP 200:\n" + metrics);
                    // the streaming calls (and calls made before the profile arrived) match no route
                    assertTrue(metrics.contains("route=\"[DEFAULT]\",status_code=\"200\",classification=\"success\"}"),
                            metrics);
                } finally {
                    ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static StreamObserver<SimpleResponse> observer(AtomicReference<String> result, CountDownLatch done) {
        return new StreamObserver<>() {
            @Override
            public void onNext(SimpleResponse v) {
                result.set(v.getResponseMessage());
            }

            @Override
            public void onError(Throwable t) {
                result.set("error: " + t);
                done.countDown();
            }

            @Override
            public void onCompleted() {
                done.countDown();
            }
        };
    }
}
