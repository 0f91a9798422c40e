package dev.hypha.proxy.tls;

import io.netty.handler.ssl.SslContext;
import java.time.Instant;
import java.util.Objects;

/**
 * One set of mTLS credentials: the proxy's own identity, its leaf's expiry, and the client and server TLS
 * contexts built from the leaf, its key and the trust anchors. Immutable; rotation swaps the whole object.
 * {@code tapServerContext} gives the tap port's context (ALPN h2, client certificate required), built on first use
 * only: a proxy nobody taps never pays for a third TLS context.
 */
public record Credentials(String identity, Instant notAfter, SslContext serverContext, SslContext clientContext,
        java.util.function.Supplier<SslContext> tapServerContext) {
    public Credentials {
        Objects.requireNonNull(identity, "identity");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(serverContext, "serverContext");
        Objects.requireNonNull(clientContext, "clientContext");
    }
}
