package dev.hypha.proxy.testing;

import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.TapEvent;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.lite.ProtoLiteUtils;
import io.grpc.stub.ClientCalls;
import java.util.concurrent.TimeUnit;

/**
 * A grpc-java client of a proxy's tap port, as the control plane calls it: mTLS with a given identity's
 * certificate, checking that the proxy proves {@code proxyIdentity}.
 */
public final class TapClient implements AutoCloseable {
    public static final MethodDescriptor<ObserveRequest, TapEvent> OBSERVE = MethodDescriptor
            .<ObserveRequest, TapEvent>newBuilder().setType(MethodDescriptor.MethodType.SERVER_STREAMING)
            .setFullMethodName("hypha.api.v1.Tap/Observe")
            .setRequestMarshaller(ProtoLiteUtils.marshaller(ObserveRequest.getDefaultInstance()))
            .setResponseMarshaller(ProtoLiteUtils.marshaller(TapEvent.getDefaultInstance())).build();
    public static final MethodDescriptor<StatsRequest, StatsResponse> STATS = MethodDescriptor
            .<StatsRequest, StatsResponse>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("hypha.api.v1.Stats/Get")
            .setRequestMarshaller(ProtoLiteUtils.marshaller(StatsRequest.getDefaultInstance()))
            .setResponseMarshaller(ProtoLiteUtils.marshaller(StatsResponse.getDefaultInstance())).build();

    public final ManagedChannel channel;

    public TapClient(int port, TestPki.Identity as, String proxyIdentity) throws Exception {
        channel = NettyChannelBuilder.forAddress("127.0.0.1", port)
                .sslContext(GrpcSslContexts.forClient().keyManager(as.cert().toFile(), as.key().toFile())
                        .trustManager(as.anchors().toFile()).build())
                .overrideAuthority(proxyIdentity).build();
    }

    /** An open tap: events arrive in {@code events}; {@code error} holds how the call ended, if it did. */
    public static final class Observation implements AutoCloseable {
        public final java.util.concurrent.LinkedBlockingQueue<TapEvent> events = new java.util.concurrent.LinkedBlockingQueue<>();
        public final java.util.concurrent.CompletableFuture<Throwable> ended = new java.util.concurrent.CompletableFuture<>();
        io.grpc.ClientCall<ObserveRequest, TapEvent> call;

        /** The next event within the timeout, or null. */
        public TapEvent next(long millis) throws InterruptedException {
            return events.poll(millis, TimeUnit.MILLISECONDS);
        }

        @Override
        public void close() {
            call.cancel("test done", null);
        }
    }

    public Observation observe(ObserveRequest req) {
        Observation o = new Observation();
        o.call = channel.newCall(OBSERVE, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS));
        ClientCalls.asyncServerStreamingCall(o.call, req, new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(TapEvent e) {
                o.events.add(e);
            }

            @Override
            public void onError(Throwable t) {
                o.ended.complete(t);
            }

            @Override
            public void onCompleted() {
                o.ended.complete(null);
            }
        });
        return o;
    }

    public StatsResponse stats(StatsRequest req) {
        return ClientCalls.blockingUnaryCall(channel, STATS, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                req);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
