package dev.hypha.control.identity;

import dev.hypha.control.local.LocalCa;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.common.MapBackedConfigSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Serves the gRPC port over TLS with the control plane's own identity
 * ({@code hypha.control.identity}, default {@code hypha-control.hypha-system.serviceaccount.identity.<td>}),
 * certified by the same issuer as the proxies, before the gRPC server starts: at configuration time it signs a
 * leaf for a key made in memory, writes the chain and key to a private temporary directory, and points
 * {@code quarkus.grpc.server.ssl.*} at them. The leaf lives as long as the issuer (a new issuer means a restart
 * of the control plane, as with a rotated Secret in Kubernetes). With {@code hypha.control.grpc-tls=false}, or no
 * issuer to sign with, the port stays plain text. The same leaf is the control plane's client certificate when it
 * calls proxies' tap ports (made whenever there is an issuer, also with {@code grpc-tls=false}).
 */
public final class ControlTlsConfigSourceFactory implements ConfigSourceFactory {
    /** Set here (not by users): the control plane's own chain, key and the trust anchors, as PEM files. */
    public static final String CLIENT_CERT = "hypha.control.internal.cert-file";
    public static final String CLIENT_KEY = "hypha.control.internal.key-file";
    public static final String CLIENT_ANCHORS = "hypha.control.internal.trust-anchors-file";
    private static Map<String, String> generated;
    private static String generatedFor;

    @Override
    public Iterable<org.eclipse.microprofile.config.spi.ConfigSource> getConfigSources(ConfigSourceContext ctx) {
        return List.of(new MapBackedConfigSource("hypha-control-tls", settings(ctx), 275) {
        });
    }

    @Override
    public OptionalInt getPriority() {
        return OptionalInt.of(275);
    }

    private static synchronized Map<String, String> settings(ConfigSourceContext ctx) {
        // made once per issuer (a process has one; tests start several applications with different issuers)
        String inputs = value(ctx, "hypha.control.grpc-tls", "true") + "|" + value(ctx, "hypha.control.issuer.cert-file", "")
                + "|" + value(ctx, "hypha.control.issuer.key-file", "") + "|"
                + value(ctx, "hypha.control.issuer.trust-anchors-file", "") + "|" + value(ctx, "hypha.control.state-dir", "");
        if (generated != null && inputs.equals(generatedFor)) {
            return generated;
        }
        generatedFor = inputs;
        Map<String, String> out = new HashMap<>();
        boolean serveTls = !"false".equalsIgnoreCase(value(ctx, "hypha.control.grpc-tls", "true"));
        String td = value(ctx, "hypha.control.trust-domain", "cluster.local");
        String identity = value(ctx, "hypha.control.identity", "hypha-control.hypha-system.serviceaccount.identity." + td);
        String cert = value(ctx, "hypha.control.issuer.cert-file", null);
        String key = value(ctx, "hypha.control.issuer.key-file", null);
        String anchors = value(ctx, "hypha.control.issuer.trust-anchors-file", null);
        String state = value(ctx, "hypha.control.state-dir", null);
        try {
            if ((cert == null || key == null || anchors == null) && state != null) {
                Path dir = Path.of(state);
                LocalCa.ensure(dir, td);
                cert = dir.resolve("issuer.crt").toString();
                key = dir.resolve("issuer.key").toString();
                anchors = dir.resolve("root.crt").toString();
            }
            if (cert == null || key == null || anchors == null) {
                return generated = out; // no issuer: nothing to sign with (IssuerSource reports why)
            }
            IssuerState issuer = IssuerSource.load(Path.of(cert), Path.of(key), Path.of(anchors), Instant.now());
            if (!issuer.usable()) {
                return generated = out;
            }
            var g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            var kp = g.generateKeyPair();
            String spiffe = IdentityNames.spiffeId(identity, td);
            byte[] csr = csr(kp, identity);
            Duration life = Duration.between(Instant.now(), issuer.cert().getNotAfter().toInstant());
            X509Certificate leaf = LeafIssuer.issue(issuer, identity, spiffe, csr, life, Duration.ofSeconds(20),
                    Instant.now());
            Path dir = Files.createTempDirectory("hypha-control-tls",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            StringBuilder chain = new StringBuilder(Pem.encode("CERTIFICATE", leaf.getEncoded()));
            for (X509Certificate c : issuer.chain()) {
                chain.append(Pem.encode("CERTIFICATE", c.getEncoded()));
            }
            Path chainFile = dir.resolve("tls.crt");
            Path keyFile = dir.resolve("tls.key");
            Files.writeString(chainFile, chain.toString());
            Files.writeString(keyFile, Pem.encode("PRIVATE KEY", kp.getPrivate().getEncoded()));
            // the same certificate is the control plane's client certificate towards proxies' tap ports
            out.put(CLIENT_CERT, chainFile.toString());
            out.put(CLIENT_KEY, keyFile.toString());
            out.put(CLIENT_ANCHORS, anchors);
            if (serveTls) {
                out.put("quarkus.grpc.server.ssl.certificate", chainFile.toString());
                out.put("quarkus.grpc.server.ssl.key", keyFile.toString());
                out.put("quarkus.grpc.server.plain-text", "false");
                out.put("hypha.control.grpc-tls-identity", identity);
            }
        } catch (Exception e) {
            System.err.println("hypha-control: cannot make the gRPC port's certificate, serving plain text: " + e);
        }
        return generated = out;
    }

    private static byte[] csr(java.security.KeyPair kp, String identity) throws Exception {
        var b = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(
                new org.bouncycastle.asn1.x500.X500Name("CN=" + identity), kp.getPublic());
        return b.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA")
                .build(kp.getPrivate())).getEncoded();
    }

    private static String value(ConfigSourceContext ctx, String name, String def) {
        ConfigValue v = ctx.getValue(name);
        return v == null || v.getValue() == null || v.getValue().isBlank() ? def : v.getValue();
    }
}
