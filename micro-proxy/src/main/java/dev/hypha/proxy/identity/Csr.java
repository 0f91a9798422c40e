package dev.hypha.proxy.identity;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.Signature;

/**
 * A PKCS#10 certificate signing request (RFC 2986) for an ECDSA P-256 key, written in DER by hand so that the
 * sidecar needs no ASN.1 library: subject CN=identity, subjectAltName DNS=identity and URI=SPIFFE ID.
 */
public final class Csr {
    private static final byte[] OID_CN = {0x55, 0x04, 0x03};
    private static final byte[] OID_EXTENSION_REQUEST = {0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x09, 0x0e};
    private static final byte[] OID_SAN = {0x55, 0x1d, 0x11};
    private static final byte[] OID_ECDSA_SHA256 = {0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x04, 0x03, 0x02};

    private Csr() {
    }

    public static byte[] build(KeyPair kp, String identity, String spiffeId) throws Exception {
        byte[] subject = seq(set(seq(oid(OID_CN), utf8(identity))));
        ByteArrayOutputStream names = new ByteArrayOutputStream();
        names.writeBytes(tlv(0x82, identity.getBytes(StandardCharsets.US_ASCII)));      // [2] dNSName
        if (spiffeId != null) {
            names.writeBytes(tlv(0x86, spiffeId.getBytes(StandardCharsets.US_ASCII)));  // [6] URI
        }
        byte[] san = seq(oid(OID_SAN), tlv(0x04, seq(names.toByteArray())));
        byte[] attributes = tlv(0xa0, seq(oid(OID_EXTENSION_REQUEST), set(seq(san))));
        byte[] info = seq(new byte[] {0x02, 0x01, 0x00}, subject, kp.getPublic().getEncoded(), attributes);
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign(kp.getPrivate());
        s.update(info);
        byte[] sig = s.sign();
        byte[] bits = new byte[sig.length + 1];
        System.arraycopy(sig, 0, bits, 1, sig.length);
        return seq(info, seq(oid(OID_ECDSA_SHA256)), tlv(0x03, bits));
    }

    static byte[] oid(byte[] body) {
        return tlv(0x06, body);
    }

    static byte[] utf8(String s) {
        return tlv(0x0c, s.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] seq(byte[]... parts) {
        return tlv(0x30, concat(parts));
    }

    static byte[] set(byte[]... parts) {
        return tlv(0x31, concat(parts));
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    static byte[] tlv(int tag, byte[] value) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(value.length + 6);
        o.write(tag);
        int n = value.length;
        if (n < 0x80) {
            o.write(n);
        } else if (n < 0x100) {
            o.write(0x81);
            o.write(n);
        } else if (n < 0x10000) {
            o.write(0x82);
            o.write(n >> 8);
            o.write(n);
        } else {
            o.write(0x83);
            o.write(n >> 16);
            o.write(n >> 8);
            o.write(n);
        }
        o.writeBytes(value);
        return o.toByteArray();
    }
}
