package dev.hypha.proxy.testing;

import com.google.protobuf.ByteString;
import dev.hypha.api.v1.CertifyRequest;
import dev.hypha.api.v1.CertifyResponse;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A mock control plane for proxy tests: a real grpc-java server implementing {@code hypha.api.v1.Identity/Certify}
 * with the test CA. Tokens are "token-for:<identity>". It records how often each identity was certified.
 */
public final class FakeIdentityServer implements AutoCloseable {
    public final TestPki pki;
    public final Map<String, AtomicInteger> issued = new ConcurrentHashMap<>();
    public volatile Duration lifetime;
    public volatile Status refuseWith;
    private final Server server;

    public FakeIdentityServer(TestPki pki, Duration lifetime, int port) throws Exception {
        this.pki = pki;
        this.lifetime = lifetime;
        MethodDescriptor<byte[], byte[]> certify = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName("hypha.api.v1.Identity/Certify")
                .setRequestMarshaller(ByteMarshaller.INSTANCE).setResponseMarshaller(ByteMarshaller.INSTANCE).build();
        ServerServiceDefinition svc = ServerServiceDefinition.builder("hypha.api.v1.Identity")
                .addMethod(certify, ServerCalls.asyncUnaryCall((byte[] req, io.grpc.stub.StreamObserver<byte[]> out) -> {
                    try {
                        out.onNext(handle(CertifyRequest.parseFrom(req)).toByteArray());
                        out.onCompleted();
                    } catch (io.grpc.StatusRuntimeException e) {
                        out.onError(e);
                    } catch (Exception e) {
                        out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
                    }
                })).build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port)).addService(svc).build().start();
    }

    private CertifyResponse handle(CertifyRequest r) throws Exception {
        if (refuseWith != null) {
            throw refuseWith.asRuntimeException();
        }
        String token = r.getToken().toStringUtf8(); // exactly, as the control plane checks it
        if (!token.equals("token-for:" + r.getIdentity())) {
            throw Status.PERMISSION_DENIED.withDescription("token does not prove " + r.getIdentity()).asRuntimeException();
        }
        X509Certificate leaf = pki.signCsr(r.getCertificateSigningRequest().toByteArray(), r.getIdentity(), lifetime);
        issued.computeIfAbsent(r.getIdentity(), k -> new AtomicInteger()).incrementAndGet();
        return CertifyResponse.newBuilder().setLeafCertificate(ByteString.copyFrom(leaf.getEncoded()))
                .setValidUntilUnixSeconds(leaf.getNotAfter().toInstant().getEpochSecond())
                .addTrustAnchors(ByteString.copyFrom(pki.root().getEncoded())).build();
    }

    public int port() {
        return server.getPort();
    }

    public int issued(String identity) {
        AtomicInteger a = issued.get(identity);
        return a == null ? 0 : a.get();
    }

    @Override
    public void close() throws Exception {
        server.shutdownNow().awaitTermination(java.util.concurrent.TimeUnit.SECONDS.toMillis(5),
                java.util.concurrent.TimeUnit.MILLISECONDS);
    }
}
