package dev.hypha.control.identity;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The issuer as last loaded: either usable (certificate, key, chain, anchors) or broken with the reason, so that
 * Certify can answer UNAVAILABLE with a clear message instead of failing obscurely.
 */
public record IssuerState(X509Certificate cert, PrivateKey key, List<X509Certificate> chain,
        List<X509Certificate> anchors, String problem) {

    public static IssuerState broken(String problem) {
        return new IssuerState(null, null, List.of(), List.of(), problem);
    }

    public boolean usable() {
        return problem == null;
    }
}
