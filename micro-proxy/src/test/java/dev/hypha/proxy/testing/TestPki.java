package dev.hypha.proxy.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** An in-test mesh CA: an ECDSA P-256 root that issues leaf certificates for mesh identities, written as PEM files. */
public final class TestPki {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    private final KeyPair rootKey;
    private final X509Certificate root;

    public TestPki(String name) {
        try {
            rootKey = ecKey();
            X500Name dn = new X500Name("CN=" + name);
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(dn, serial(),
                    Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(365))), dn,
                    rootKey.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            root = sign(b, rootKey);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Files for one identity: {@code cert} (leaf chain), {@code key} (PKCS#8), {@code anchors} (this root). */
    public record Identity(String name, Path cert, Path key, Path anchors) {
    }

    public Identity issue(String dnsIdentity, Path dir) {
        return issue(dnsIdentity, dir, Duration.ofHours(24));
    }

    public Identity issue(String dnsIdentity, Path dir, Duration lifetime) {
        try {
            KeyPair kp = ecKey();
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(root.getSubjectX500Principal().getName()),
                    serial(), Date.from(now.minusSeconds(60)), Date.from(now.plus(lifetime)),
                    new X500Name("CN=" + dnsIdentity), kp.getPublic());
            String[] p = dnsIdentity.split("\\.", 5);
            GeneralName dns = new GeneralName(GeneralName.dNSName, dnsIdentity);
            GeneralNames sans = p.length == 5
                    ? new GeneralNames(new GeneralName[] {dns, new GeneralName(GeneralName.uniformResourceIdentifier,
                            "spiffe://" + p[4] + "/ns/" + p[1] + "/sa/" + p[0])})
                    : new GeneralNames(dns);
            b.addExtension(Extension.subjectAlternativeName, false, sans);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            X509Certificate leaf = sign(b, rootKey);
            Files.createDirectories(dir);
            String base = dnsIdentity.split("\\.")[0] + "-" + SERIAL.incrementAndGet();
            Path cert = dir.resolve(base + ".crt");
            Path key = dir.resolve(base + ".key");
            Path anchors = dir.resolve(base + "-anchors.crt");
            Files.writeString(cert, pem("CERTIFICATE", leaf.getEncoded()));
            Files.writeString(key, pem("PRIVATE KEY", kp.getPrivate().getEncoded()));
            Files.writeString(anchors, pem("CERTIFICATE", root.getEncoded()));
            return new Identity(dnsIdentity, cert, key, anchors);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Signs a leaf for a CSR (DER PKCS#10), as the control plane does; the CSR must verify. */
    public X509Certificate signCsr(byte[] csrDer, String identity, Duration lifetime) {
        try {
            org.bouncycastle.pkcs.PKCS10CertificationRequest csr = new org.bouncycastle.pkcs.PKCS10CertificationRequest(csrDer);
            if (!csr.isSignatureValid(new org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder()
                    .build(csr.getSubjectPublicKeyInfo()))) {
                throw new IllegalArgumentException("CSR signature does not verify");
            }
            var key = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest(csr).getPublicKey();
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(root.getSubjectX500Principal().getName()),
                    serial(), Date.from(now.minusSeconds(5)), Date.from(now.plus(lifetime)),
                    new X500Name("CN=" + identity), key);
            String[] p = identity.split("\\.", 5);
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, identity),
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + p[4] + "/ns/" + p[1] + "/sa/" + p[0])}));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            return sign(b, rootKey);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    public X509Certificate root() {
        return root;
    }

    public static String pem(String type, byte[] der) {
        StringWriter w = new StringWriter();
        w.write("-----BEGIN " + type + "-----\n");
        w.write(Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der));
        w.write("\n-----END " + type + "-----\n");
        return w.toString();
    }

    private static KeyPair ecKey() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return BigInteger.valueOf(SERIAL.incrementAndGet());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws Exception {
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
    }

    public static void writeIfMissing(Path p, String content) throws IOException {
        if (!Files.exists(p)) {
            Files.writeString(p, content);
        }
    }
}
