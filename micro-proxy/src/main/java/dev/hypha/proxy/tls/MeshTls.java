package dev.hypha.proxy.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import dev.hypha.proxy.config.ProxyConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Builds mesh TLS contexts: TLS 1.3 only, both sides authenticated against the trust anchors, and the mesh's own
 * ALPN protocol so that the inbound side tells a proxy-to-proxy connection from an application's own TLS.
 */
public final class MeshTls {
    /** The ALPN protocol that marks a proxy-to-proxy connection. */
    public static final String ALPN = "hypha.dev/mesh-1";
    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private MeshTls() {
    }

    public static SslProvider provider(ProxyConfig.TlsProvider choice) {
        return switch (choice) {
            case JDK -> SslProvider.JDK;
            case OPENSSL -> {
                if (!OpenSsl.isAvailable()) {
                    throw new IllegalStateException("HYPHA_PROXY_TLS_PROVIDER=openssl but BoringSSL did not load: "
                            + OpenSsl.unavailabilityCause() + ". " + dev.hypha.proxy.transport.Transports.NATIVE_HINT);
                }
                yield SslProvider.OPENSSL;
            }
            case AUTO -> {
                if (OpenSsl.isAvailable()) {
                    yield SslProvider.OPENSSL;
                }
                java.util.logging.Logger.getLogger(MeshTls.class.getName()).warning("BoringSSL did not load ("
                        + OpenSsl.unavailabilityCause() + "): using the JDK's TLS, which costs more CPU and memory. "
                        + dev.hypha.proxy.transport.Transports.NATIVE_HINT);
                yield SslProvider.JDK;
            }
        };
    }

    /** Builds credentials from a leaf chain, its private key and the trust anchors (all PEM text). */
    public static Credentials fromPem(byte[] chainPem, byte[] keyPem, byte[] anchorsPem, String expectedIdentity,
            SslProvider provider) throws TlsConfigException {
        List<X509Certificate> chain = certificates(chainPem, "certificate chain");
        List<X509Certificate> anchors = certificates(anchorsPem, "trust anchors");
        PrivateKey key;
        try {
            key = Pem.privateKey(keyPem);
        } catch (Exception e) {
            throw new TlsConfigException("the private key is not a PKCS#8 PEM key (\"BEGIN PRIVATE KEY\"): "
                    + e.getMessage());
        }
        return of(key, chain, anchors, expectedIdentity, provider);
    }

    /** Builds credentials from a key, its leaf (first) and chain, and the trust anchors. */
    public static Credentials of(PrivateKey key, List<X509Certificate> chain, List<X509Certificate> anchors,
            String expectedIdentity, SslProvider provider) throws TlsConfigException {
        X509Certificate leaf = chain.get(0);
        PeerIdentity id = PeerIdentity.of(leaf);
        if (id == null) {
            throw new TlsConfigException("the leaf certificate (" + leaf.getSubjectX500Principal()
                    + ") has no DNS name in its subjectAltName; a mesh identity needs one");
        }
        if (expectedIdentity != null && !expectedIdentity.equals(id.dnsName())) {
            throw new TlsConfigException("the leaf certificate names identity '" + id.dnsName()
                    + "' but the configured identity is '" + expectedIdentity + "'");
        }
        Instant notAfter = leaf.getNotAfter().toInstant();
        if (notAfter.isBefore(Instant.now())) {
            throw new TlsConfigException("the leaf certificate for '" + id.dnsName() + "' expired at " + notAfter);
        }
        X509Certificate[] chainArr = chain.toArray(X509Certificate[]::new);
        X509Certificate[] anchorArr = anchors.toArray(X509Certificate[]::new);
        ApplicationProtocolConfig alpn = new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ALPN);
        try {
            javax.net.ssl.KeyManagerFactory keys = MeshKeyManager.factory(key, chainArr,
                    provider == SslProvider.OPENSSL);
            SslContext server = SslContextBuilder.forServer(keys)
                    .sslProvider(provider).protocols(PROTOCOLS).trustManager(anchorArr)
                    .clientAuth(ClientAuth.REQUIRE).applicationProtocolConfig(alpn).build();
            SslContext client = SslContextBuilder.forClient()
                    .sslProvider(provider).protocols(PROTOCOLS).trustManager(anchorArr)
                    .keyManager(keys).applicationProtocolConfig(alpn).build();
            return new Credentials(id.dnsName(), notAfter, server, client, new TapContext(keys, anchorArr, provider));
        } catch (Exception e) {
            throw new TlsConfigException("the certificate and key cannot be used for TLS: " + e.getMessage());
        }
    }

    /** The tap port's server context, built once on first use. */
    private static final class TapContext implements java.util.function.Supplier<SslContext> {
        private final javax.net.ssl.KeyManagerFactory keys;
        private final X509Certificate[] anchors;
        private final SslProvider provider;
        private volatile SslContext built;

        /** {@code keys}: the identity's key manager, the same the mesh contexts use. */
        TapContext(javax.net.ssl.KeyManagerFactory keys, X509Certificate[] anchors, SslProvider provider) {
            this.keys = keys;
            this.anchors = anchors;
            this.provider = provider;
        }

        @Override
        public synchronized SslContext get() {
            if (built == null) {
                try {
                    built = SslContextBuilder.forServer(keys).sslProvider(provider).protocols(PROTOCOLS)
                            .trustManager(anchors).clientAuth(ClientAuth.REQUIRE)
                            .applicationProtocolConfig(new ApplicationProtocolConfig(
                                    ApplicationProtocolConfig.Protocol.ALPN,
                                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
                            .build();
                } catch (javax.net.ssl.SSLException e) {
                    throw new IllegalStateException("cannot build the tap port's TLS context: " + e.getMessage(), e);
                }
            }
            return built;
        }
    }

    public static Credentials fromFiles(Path chain, Path key, Path anchors, String expectedIdentity,
            SslProvider provider) throws TlsConfigException {
        try {
            return fromFiles(chain, key, Files.readAllBytes(anchors), expectedIdentity, provider);
        } catch (IOException e) {
            throw new TlsConfigException("cannot read identity files: " + e.getMessage());
        }
    }

    /** Leaf and key from files, trust anchors already read (from a file or inline PEM). */
    public static Credentials fromFiles(Path chain, Path key, byte[] anchors, String expectedIdentity,
            SslProvider provider) throws TlsConfigException {
        try {
            return fromPem(Files.readAllBytes(chain), Files.readAllBytes(key), anchors,
                    expectedIdentity, provider);
        } catch (IOException e) {
            throw new TlsConfigException("cannot read identity files: " + e.getMessage());
        }
    }

    public static List<X509Certificate> certificates(byte[] pem, String what) throws TlsConfigException {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            Collection<? extends java.security.cert.Certificate> certs =
                    cf.generateCertificates(new ByteArrayInputStream(pem));
            List<X509Certificate> out = new ArrayList<>();
            for (var c : certs) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new TlsConfigException("the " + what + " holds no PEM certificate (\"BEGIN CERTIFICATE\")");
            }
            return out;
        } catch (CertificateException e) {
            throw new TlsConfigException("the " + what + " is not valid PEM X.509: " + e.getMessage());
        }
    }
}
