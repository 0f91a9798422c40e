package dev.hypha.inject;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates for installation: the mesh's trust anchor and issuer ({@code hypha install} makes them when the
 * user brings none), and the injector's own serving CA and certificate. ECDSA P-256 throughout, as DESIGN fixes.
 */
public final class Pki {
    /** A certificate and its private key. */
    public record Issued(X509Certificate cert, PrivateKey key) {
        public String certPem() {
            return pem("CERTIFICATE", encoded(cert));
        }

        public String keyPem() {
            return pem("PRIVATE KEY", key.getEncoded());
        }
    }

    private Pki() {
    }

    public static KeyPair ecKey() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException("cannot make an ECDSA P-256 key", e);
        }
    }

    /** A self-signed root. */
    public static Issued root(String cn, Instant now, Duration lifetime) {
        KeyPair k = ecKey();
        X500Name name = new X500Name("CN=" + cn);
        return new Issued(ca(name, name, k.getPublic(), k.getPrivate(), now, lifetime, 1), k.getPrivate());
    }

    /** An intermediate CA signed by {@code parent}. */
    public static Issued intermediate(String cn, Issued parent, Instant now, Duration lifetime) {
        KeyPair k = ecKey();
        X500Name issuer = X500Name.getInstance(parent.cert().getSubjectX500Principal().getEncoded());
        return new Issued(ca(new X500Name("CN=" + cn), issuer, k.getPublic(), parent.key(), now, lifetime, 0),
                k.getPrivate());
    }

    /** A TLS server certificate for DNS names, signed by {@code ca}. */
    public static Issued serving(List<String> dnsNames, Issued ca, Instant now, Duration lifetime) {
        try {
            KeyPair k = ecKey();
            X500Name issuer = X500Name.getInstance(ca.cert().getSubjectX500Principal().getEncoded());
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, serial(),
                    Date.from(now.minusSeconds(60)), Date.from(now.plus(lifetime)),
                    new X500Name("CN=" + dnsNames.get(0)), k.getPublic());
            GeneralName[] names = dnsNames.stream().map(n -> new GeneralName(GeneralName.dNSName, n))
                    .toArray(GeneralName[]::new);
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            return new Issued(new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(ca.key()))), k.getPrivate());
        } catch (Exception e) {
            throw new IllegalStateException("cannot issue a serving certificate", e);
        }
    }

    private static X509Certificate ca(X500Name subject, X500Name issuer, PublicKey pub, PrivateKey signer,
            Instant now, Duration lifetime, int pathLen) {
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, serial(),
                    Date.from(now.minusSeconds(60)), Date.from(now.plus(lifetime)), subject, pub);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(pathLen));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false,
                    new JcaX509ExtensionUtils().createSubjectKeyIdentifier(pub));
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        } catch (Exception e) {
            throw new IllegalStateException("cannot make a CA certificate", e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
    }

    public static String pem(String type, byte[] der) {
        String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return "-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n";
    }

    private static byte[] encoded(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** All certificates in a PEM text; IllegalArgumentException naming {@code what} if there are none. */
    public static List<X509Certificate> certificates(String pem, String what) {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> out = new ArrayList<>();
            for (var c : cf.generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException(what + " holds no PEM certificate");
            }
            return out;
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalArgumentException(what + " is not PEM certificates: " + e.getMessage());
        }
    }

    /** A PEM private key: PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY"). */
    public static PrivateKey privateKey(String pem, String what) {
        try (PEMParser p = new PEMParser(new java.io.StringReader(pem))) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                return conv.getKeyPair(kp).getPrivate();
            }
            if (o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info) {
                return conv.getPrivateKey(info);
            }
            throw new IllegalArgumentException(what + " is not a PEM private key (PKCS#8 or EC)");
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalArgumentException(what + " is not a PEM private key: " + e.getMessage());
        }
    }

    /** Whether {@code key} is the private half of {@code cert}'s public key (sign and verify a challenge). */
    public static boolean matches(X509Certificate cert, PrivateKey key) {
        try {
            String alg = cert.getPublicKey() instanceof ECPublicKey ? "SHA256withECDSA" : "SHA256withRSA";
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            byte[] msg = "hypha".getBytes(StandardCharsets.US_ASCII);
            s.update(msg);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(msg);
            return v.verify(sig);
        } catch (Exception e) {
            return false;
        }
    }

    /** Whether {@code child} is signed by {@code parent}. */
    public static boolean signedBy(X509Certificate child, X509Certificate parent) {
        try {
            child.verify(parent.getPublicKey());
            return child.getIssuerX500Principal().equals(parent.getSubjectX500Principal());
        } catch (Exception e) {
            return false;
        }
    }
}
