package dev.hypha.control.tap;

import dev.hypha.control.ControlConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * gRPC channels to proxies' tap ports: mTLS with the control plane's own certificate (the proxies let only that
 * identity in), each proxy checked against the trust anchors and the identity it must prove. At most
 * {@value #MAX} channels are kept (least recently used closed first).
 */
@ApplicationScoped
public class ProxyClients {
    private static final Logger LOG = Logger.getLogger(ProxyClients.class);
    static final int MAX = 256;

    private final ControlConfig config;
    private volatile SslContext tls;
    private final Map<String, ManagedChannel> channels = new LinkedHashMap<>(16, 0.75f, true);

    public ProxyClients(ControlConfig config) {
        this.config = config;
    }

    private SslContext tls() {
        SslContext t = tls;
        if (t != null) {
            return t;
        }
        synchronized (this) {
            if (tls == null) {
                var cert = config.internal().certFile();
                var key = config.internal().keyFile();
                var anchors = config.internal().trustAnchorsFile();
                if (cert.isEmpty() || key.isEmpty() || anchors.isEmpty()) {
                    throw Status.FAILED_PRECONDITION.withDescription("the control plane has no certificate of its own "
                            + "(no issuer loaded), so it cannot reach proxies' tap ports").asRuntimeException();
                }
                try {
                    tls = GrpcSslContexts.forClient().keyManager(cert.get().toFile(), key.get().toFile())
                            .trustManager(anchors.get().toFile()).build();
                } catch (Exception e) {
                    throw Status.FAILED_PRECONDITION.withDescription("cannot set up TLS to proxies: " + e.getMessage())
                            .asRuntimeException();
                }
            }
            return tls;
        }
    }

    /** The channel to a proxy's tap port, made on first use. */
    public ManagedChannel channel(String tapAddress, String identity) {
        SslContext ctx = tls();
        String key = tapAddress + "|" + identity;
        synchronized (channels) {
            ManagedChannel ch = channels.get(key);
            if (ch != null && !ch.isShutdown()) {
                return ch;
            }
            int colon = tapAddress.lastIndexOf(':');
            String host = tapAddress.substring(0, colon).replace("[", "").replace("]", "");
            int port = Integer.parseInt(tapAddress.substring(colon + 1));
            ch = NettyChannelBuilder.forAddress(host, port).sslContext(ctx).overrideAuthority(identity)
                    .maxInboundMessageSize(4 << 20).build();
            channels.put(key, ch);
            if (channels.size() > MAX) {
                var it = channels.entrySet().iterator();
                var eldest = it.next();
                it.remove();
                eldest.getValue().shutdown();
            }
            return ch;
        }
    }

    void stop(@Observes ShutdownEvent e) {
        synchronized (channels) {
            for (ManagedChannel ch : channels.values()) {
                ch.shutdownNow();
                try {
                    ch.awaitTermination(1, TimeUnit.SECONDS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
            channels.clear();
        }
        LOG.debug("tap channels closed");
    }
}
