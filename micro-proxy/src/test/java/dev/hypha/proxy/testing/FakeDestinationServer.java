package dev.hypha.proxy.testing;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.GetDestination;
import dev.hypha.api.v1.NoEndpoints;
import dev.hypha.api.v1.Update;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A mock control plane's Destination service for proxy tests: GetProfile answers the profile set for an authority
 * (else an empty one) and keeps the stream open; Get answers no_endpoints{exists=false} (the static destination
 * table of the test proxies decides where traffic goes).
 */
public final class FakeDestinationServer implements AutoCloseable {
    public final Map<String, DestinationProfile> profiles = new ConcurrentHashMap<>();
    private final Server server;

    public FakeDestinationServer() throws Exception {
        MethodDescriptor<byte[], byte[]> get = method("Get");
        MethodDescriptor<byte[], byte[]> getProfile = method("GetProfile");
        ServerServiceDefinition svc = ServerServiceDefinition.builder("hypha.api.v1.Destination")
                .addMethod(get, ServerCalls.asyncServerStreamingCall((byte[] req, io.grpc.stub.StreamObserver<byte[]> out) ->
                        out.onNext(Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(false)).build()
                                .toByteArray())))
                .addMethod(getProfile, ServerCalls.asyncServerStreamingCall((byte[] req, io.grpc.stub.StreamObserver<byte[]> out) -> {
                    try {
                        String path = GetDestination.parseFrom(req).getPath();
                        out.onNext(profiles.getOrDefault(path, DestinationProfile.getDefaultInstance()).toByteArray());
                    } catch (Exception e) {
                        out.onError(e);
                    }
                })).build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(svc).build().start();
    }

    private static MethodDescriptor<byte[], byte[]> method(String name) {
        return MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.SERVER_STREAMING)
                .setFullMethodName("hypha.api.v1.Destination/" + name).setRequestMarshaller(ByteMarshaller.INSTANCE)
                .setResponseMarshaller(ByteMarshaller.INSTANCE).build();
    }

    public int port() {
        return server.getPort();
    }

    @Override
    public void close() throws Exception {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
