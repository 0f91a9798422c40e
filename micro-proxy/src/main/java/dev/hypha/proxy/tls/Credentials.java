package dev.hypha.proxy.tls;

import io.netty.handler.ssl.SslContext;
import java.time.Instant;
import java.util.Objects;

/**
 * One set of mTLS credentials: the proxy's own identity, its leaf's expiry, and the client and server TLS
 * contexts built from the leaf, its key and the trust anchors. Immutable; rotation swaps the whole object.
 */
public record Credentials(String identity, Instant notAfter, SslContext serverContext, SslContext clientContext) {
    public Credentials {
        Objects.requireNonNull(identity, "identity");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(serverContext, "serverContext");
        Objects.requireNonNull(clientContext, "clientContext");
    }
}
