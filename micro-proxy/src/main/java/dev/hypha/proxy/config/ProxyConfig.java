package dev.hypha.proxy.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * The proxy's whole configuration, read once at start (see {@link ConfigParser}) and passed to constructors.
 * Every field maps to one environment variable documented in {@code micro-proxy/README.md}.
 */
public record ProxyConfig(
        Mode mode,
        HostPort outboundListen,
        HostPort inboundListen,
        HostPort adminListen,
        HostPort tapListen,
        HostPort outboundTarget,
        HostPort inboundTarget,
        String inboundAppHost,
        Set<Integer> opaquePorts,
        Duration detectTimeout,
        Duration connectTimeout,
        Duration shutdownGrace,
        Duration http1IdleTimeout,
        int maxHeaderBytes,
        int maxInitialLineBytes,
        Path identityCertFile,
        Path identityKeyFile,
        Path trustAnchorsFile,
        String trustAnchorsPem,
        String identityName,
        HostPort identityAddr,
        Path identityTokenFile,
        HostPort destinationAddr,
        String controlIdentity,
        boolean controlPlaintext,
        Duration discoveryIdleTimeout,
        Duration failFastTimeout,
        InboundPolicy inboundPolicy,
        Map<String, MeshDestination> destinations,
        String logLevel,
        int eventLoopThreads,
        Transport transport,
        TlsProvider tlsProvider) {

    /** How the proxy learns where a connection was going. */
    public enum Mode {
        /** iptables REDIRECT sent it here; SO_ORIGINAL_DST says where it was going. */
        TRANSPARENT,
        /** the app (or a test) connects to the listener and names the target in the HTTP authority. */
        EXPLICIT
    }

    public enum Transport { AUTO, EPOLL, NIO }

    public enum TlsProvider { AUTO, OPENSSL, JDK }

    /** Whether trust anchors were given, as a file or inline. */
    public boolean hasTrustAnchors() {
        return trustAnchorsFile != null || trustAnchorsPem != null;
    }

    /** The trust anchors' PEM: inline ({@code TRUST_ANCHORS}) or read from {@code TRUST_ANCHORS_FILE}. */
    public byte[] trustAnchorsBytes() throws java.io.IOException {
        if (trustAnchorsPem != null) {
            return trustAnchorsPem.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        }
        return java.nio.file.Files.readAllBytes(trustAnchorsFile);
    }

    /** Whether the proxy has an identity at all (from files, or certified by the control plane). */
    public boolean hasIdentity() {
        return identityCertFile != null || identityAddr != null;
    }

    /** The destination table entry for an authority or address, or null. */
    public MeshDestination destination(String key) {
        return destinations.get(key);
    }
}
