package dev.hypha.control.identity;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/** A trust anchor and an issuer (intermediate) written as PEM files, as {@code hypha install} will make them. */
public final class TestCa implements QuarkusTestResourceLifecycleManager {
    static final AtomicLong SERIAL = new AtomicLong(System.nanoTime());
    public static Path dir;
    static KeyPair rootKey;
    static X509Certificate root;

    static KeyPair ec() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static X509Certificate ca(String cn, KeyPair subject, X509Certificate issuerCert, KeyPair issuerKey,
            Instant notBefore, Instant notAfter) throws Exception {
        X500Name issuerName = issuerCert == null ? new X500Name("CN=" + cn)
                : new X500Name(issuerCert.getSubjectX500Principal().getName());
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
                BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(notBefore), Date.from(notAfter),
                new X500Name("CN=" + cn), subject.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey.getPrivate())));
    }

    /** Writes a new issuer signed by the root into the configured files; returns its certificate. */
    static X509Certificate writeIssuer(String cn, Instant notBefore, Instant notAfter) throws Exception {
        KeyPair k = ec();
        X509Certificate c = ca(cn, k, root, rootKey, notBefore, notAfter);
        Files.writeString(dir.resolve("issuer.key.tmp"), Pem.encode("PRIVATE KEY", k.getPrivate().getEncoded()));
        Files.writeString(dir.resolve("issuer.crt.tmp"), Pem.encode("CERTIFICATE", c.getEncoded()));
        Files.move(dir.resolve("issuer.key.tmp"), dir.resolve("issuer.key"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Files.move(dir.resolve("issuer.crt.tmp"), dir.resolve("issuer.crt"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return c;
    }

    @Override
    public Map<String, String> start() {
        try {
            dir = Files.createTempDirectory("hypha-ca");
            rootKey = ec();
            Instant now = Instant.now();
            root = ca("hypha test root", rootKey, null, rootKey, now.minusSeconds(60), now.plusSeconds(86400 * 365));
            Files.writeString(dir.resolve("anchors.crt"), Pem.encode("CERTIFICATE", root.getEncoded()));
            writeIssuer("hypha test issuer", now.minusSeconds(60), now.plusSeconds(86400 * 30));
            Files.writeString(dir.resolve("registry.json"), "{\"services\": {}}");
            return Map.of(
                    "hypha.control.registry-file", dir.resolve("registry.json").toString(),
                    "hypha.control.registry-reload-interval", "50ms",
                    "hypha.control.issuer.cert-file", dir.resolve("issuer.crt").toString(),
                    "hypha.control.issuer.key-file", dir.resolve("issuer.key").toString(),
                    "hypha.control.issuer.trust-anchors-file", dir.resolve("anchors.crt").toString(),
                    "hypha.control.issuer.reload-interval", "50ms");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void stop() {
    }
}
