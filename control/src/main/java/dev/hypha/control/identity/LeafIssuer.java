package dev.hypha.control.identity;

import io.grpc.Status;
import java.math.BigInteger;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/** "CSR → certificate": checks a proxy's CSR and signs its leaf. Pure apart from the clock and randomness. */
public final class LeafIssuer {
    private static final SecureRandom RANDOM = new SecureRandom();

    private LeafIssuer() {
    }

    /** Checks the CSR and returns the public key it carries. */
    public static PublicKey checkCsr(byte[] der, String identity, String spiffeId) throws CertifyException {
        PKCS10CertificationRequest csr;
        try {
            csr = new PKCS10CertificationRequest(der);
        } catch (Exception e) {
            throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr",
                    "the CSR is not a DER PKCS#10 request: " + e.getMessage());
        }
        SubjectPublicKeyInfo spki = csr.getSubjectPublicKeyInfo();
        ASN1ObjectIdentifier alg = spki.getAlgorithm().getAlgorithm();
        boolean p256 = X9ObjectIdentifiers.id_ecPublicKey.equals(alg)
                && SECObjectIdentifiers.secp256r1.equals(spki.getAlgorithm().getParameters());
        if (!p256) {
            throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr",
                    "the CSR's key must be ECDSA P-256 (got " + alg.getId() + ")");
        }
        try {
            if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(spki))) {
                throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr",
                        "the CSR's signature does not verify");
            }
        } catch (CertifyException e) {
            throw e;
        } catch (Exception e) {
            throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr",
                    "the CSR's signature cannot be checked: " + e.getMessage());
        }
        for (var attr : csr.getAttributes(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)) {
            Extensions ext = Extensions.getInstance(attr.getAttrValues().getObjectAt(0));
            GeneralNames sans = GeneralNames.fromExtensions(ext, Extension.subjectAlternativeName);
            if (sans == null) {
                continue;
            }
            for (GeneralName n : sans.getNames()) {
                String v = n.getName().toString();
                boolean ok = (n.getTagNo() == GeneralName.dNSName && v.equals(identity))
                        || (n.getTagNo() == GeneralName.uniformResourceIdentifier && v.equals(spiffeId));
                if (!ok) {
                    throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr",
                            "the CSR asks for the name '" + v + "', but only '" + identity + "' (DNS) and '"
                                    + spiffeId + "' (URI) may be requested");
                }
            }
        }
        try {
            return new JcaPKCS10CertificationRequest(csr).getPublicKey();
        } catch (Exception e) {
            throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr", "unreadable CSR key: " + e);
        }
    }

    /** Signs a leaf for {@code identity} with the CSR's key; valid from now - skew to min(now + lifetime, issuer). */
    public static X509Certificate issue(IssuerState issuer, String identity, String spiffeId, byte[] csrDer,
            Duration lifetime, Duration skew, Instant now) throws CertifyException {
        PublicKey key = checkCsr(csrDer, identity, spiffeId);
        Instant notAfter = now.plus(lifetime);
        Instant issuerEnd = issuer.cert().getNotAfter().toInstant();
        if (notAfter.isAfter(issuerEnd)) {
            notAfter = issuerEnd;
        }
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer.cert(),
                    new BigInteger(127, RANDOM).add(BigInteger.ONE), Date.from(now.minus(skew)), Date.from(notAfter),
                    new X500Name("CN=" + identity), key);
            List<GeneralName> names = new ArrayList<>();
            names.add(new GeneralName(GeneralName.dNSName, identity));
            if (spiffeId != null) {
                names.add(new GeneralName(GeneralName.uniformResourceIdentifier, spiffeId));
            }
            JcaX509ExtensionUtils u = new JcaX509ExtensionUtils();
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(GeneralName[]::new)));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.authorityKeyIdentifier, false, u.createAuthorityKeyIdentifier(issuer.cert()));
            b.addExtension(Extension.subjectKeyIdentifier, false, u.createSubjectKeyIdentifier(key));
            String alg = issuer.key().getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder(alg).build(issuer.key())));
        } catch (Exception e) {
            throw new CertifyException(Status.Code.UNAVAILABLE, "issuer_unavailable",
                    "signing failed: " + e.getMessage());
        }
    }
}
