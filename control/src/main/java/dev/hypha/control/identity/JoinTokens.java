package dev.hypha.control.identity;

import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;

/**
 * Local mode's tokens: {@code hypha-join.v1.<payload>.<signature>}, base64url, where the payload is
 * {@code identity|expiry-unix-seconds|nonce} and the signature is the issuer key's ECDSA (or RSA) signature over
 * it. Minted by the admin endpoint or the CLI, checked by {@link #identityOf}. A token is a bearer credential:
 * it is never logged. Rotating the issuer invalidates tokens signed by the old key.
 */
public final class JoinTokens implements TokenValidator {
    static final String PREFIX = "hypha-join.v1.";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final IssuerSource issuer;
    private final Clock clock;

    public JoinTokens(IssuerSource issuer, Clock clock) {
        this.issuer = issuer;
        this.clock = clock;
    }

    public String mint(String identity, Duration ttl) throws CertifyException {
        IssuerState s = issuer.current();
        if (!s.usable()) {
            throw new CertifyException(Status.Code.UNAVAILABLE, "issuer_unavailable", s.problem());
        }
        byte[] nonce = new byte[12];
        RANDOM.nextBytes(nonce);
        String payload = identity + "|" + clock.instant().plus(ttl).getEpochSecond() + "|"
                + Base64.getUrlEncoder().withoutPadding().encodeToString(nonce);
        try {
            Signature sig = Signature.getInstance(alg(s));
            sig.initSign(s.key());
            sig.update(payload.getBytes(StandardCharsets.UTF_8));
            Base64.Encoder enc = Base64.getUrlEncoder().withoutPadding();
            return PREFIX + enc.encodeToString(payload.getBytes(StandardCharsets.UTF_8)) + "." + enc.encodeToString(sig.sign());
        } catch (Exception e) {
            throw new CertifyException(Status.Code.UNAVAILABLE, "issuer_unavailable", "cannot sign: " + e.getMessage());
        }
    }

    @Override
    public String identityOf(byte[] token) throws CertifyException {
        String t = new String(token, StandardCharsets.US_ASCII);
        if (!t.startsWith(PREFIX)) {
            throw bad("not a join token (expected the hypha-join.v1. prefix)");
        }
        String[] parts = t.substring(PREFIX.length()).split("\\.", -1);
        if (parts.length != 2) {
            throw bad("malformed join token");
        }
        byte[] payload;
        byte[] signature;
        try {
            payload = Base64.getUrlDecoder().decode(parts[0]);
            signature = Base64.getUrlDecoder().decode(parts[1]);
        } catch (IllegalArgumentException e) {
            throw bad("malformed join token");
        }
        IssuerState s = issuer.current();
        if (!s.usable()) {
            throw new CertifyException(Status.Code.UNAVAILABLE, "issuer_unavailable", s.problem());
        }
        try {
            Signature sig = Signature.getInstance(alg(s));
            sig.initVerify(s.cert().getPublicKey());
            sig.update(payload);
            if (!sig.verify(signature)) {
                throw bad("the join token's signature does not verify (minted by another control plane or issuer?)");
            }
        } catch (CertifyException e) {
            throw e;
        } catch (Exception e) {
            throw bad("the join token's signature does not verify");
        }
        String[] f = new String(payload, StandardCharsets.UTF_8).split("\\|", -1);
        if (f.length != 3) {
            throw bad("malformed join token payload");
        }
        long exp;
        try {
            exp = Long.parseLong(f[1]);
        } catch (NumberFormatException e) {
            throw bad("malformed join token payload");
        }
        if (clock.instant().getEpochSecond() > exp) {
            throw bad("the join token expired");
        }
        return f[0];
    }

    private static String alg(IssuerState s) {
        return s.key().getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
    }

    private static CertifyException bad(String why) {
        return new CertifyException(Status.Code.UNAUTHENTICATED, "bad_token", why);
    }
}
