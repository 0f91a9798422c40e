package dev.hypha.control.local;

import dev.hypha.control.identity.Pem;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Local mode with nothing configured: makes a trust anchor (root) and an issuer (intermediate), both ECDSA P-256,
 * in a state directory, once; later starts reuse them. The root's key is not kept: it is not needed until the
 * issuer is rotated, and then a new root is made too. Files: {@code root.crt}, {@code issuer.crt},
 * {@code issuer.key} (mode 0600).
 */
public final class LocalCa {
    static final Duration LIFETIME = Duration.ofDays(365);

    private LocalCa() {
    }

    /** Ensures the files exist in {@code dir}; returns true when they were made now. */
    public static synchronized boolean ensure(Path dir, String trustDomain) throws Exception {
        Path root = dir.resolve("root.crt");
        Path issuer = dir.resolve("issuer.crt");
        Path key = dir.resolve("issuer.key");
        if (Files.exists(root) && Files.exists(issuer) && Files.exists(key)) {
            return false;
        }
        Files.createDirectories(dir);
        KeyPair rootKey = ec();
        KeyPair issuerKey = ec();
        Instant now = Instant.now();
        X500Name rootName = new X500Name("CN=root.hypha." + trustDomain);
        X509Certificate rootCert = ca(rootName, rootName, rootKey, rootKey, now, 1);
        X509Certificate issuerCert = ca(new X500Name("CN=identity.hypha." + trustDomain), rootName, issuerKey, rootKey,
                now, 0);
        Path tmpKey = dir.resolve("issuer.key.tmp");
        Files.writeString(tmpKey, Pem.encode("PRIVATE KEY", issuerKey.getPrivate().getEncoded()));
        try {
            Files.setPosixFilePermissions(tmpKey, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system
        }
        Files.move(tmpKey, key);
        Files.writeString(issuer, Pem.encode("CERTIFICATE", issuerCert.getEncoded()));
        Files.writeString(root, Pem.encode("CERTIFICATE", rootCert.getEncoded()));
        return true;
    }

    private static KeyPair ec() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static X509Certificate ca(X500Name subject, X500Name issuer, KeyPair subjectKey, KeyPair signer,
            Instant now, int pathLen) throws Exception {
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer,
                new BigInteger(127, new SecureRandom()).add(BigInteger.ONE), Date.from(now.minusSeconds(60)),
                Date.from(now.plus(LIFETIME)), subject, subjectKey.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(pathLen));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        b.addExtension(Extension.subjectKeyIdentifier, false,
                new JcaX509ExtensionUtils().createSubjectKeyIdentifier(subjectKey.getPublic()));
        return new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
    }
}
