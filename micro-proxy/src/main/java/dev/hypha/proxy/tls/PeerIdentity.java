package dev.hypha.proxy.tls;

import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLPeerUnverifiedException;

/** A peer's mesh identity, from its leaf certificate: the DNS-style name and, when present, the SPIFFE ID. */
public record PeerIdentity(String dnsName, String spiffeId) {

    /** Reads the identity from a certificate's subjectAltName; null if it names no DNS identity. */
    public static PeerIdentity of(X509Certificate cert) {
        String dns = null;
        String uri = null;
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int type = (Integer) san.get(0);
                    if (type == 2 && dns == null) {
                        dns = (String) san.get(1);
                    } else if (type == 6 && uri == null && String.valueOf(san.get(1)).startsWith("spiffe://")) {
                        uri = (String) san.get(1);
                    }
                }
            }
        } catch (CertificateParsingException e) {
            return null;
        }
        return dns == null ? null : new PeerIdentity(dns, uri);
    }

    /** The verified peer identity of a completed handshake, or null. */
    public static PeerIdentity of(SslHandler ssl) {
        try {
            Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate x) {
                return of(x);
            }
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
        return null;
    }
}
