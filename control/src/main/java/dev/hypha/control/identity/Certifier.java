package dev.hypha.control.identity;

import dev.hypha.control.ControlConfig;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Certify's logic, independent of gRPC: token → identity (the validator), identity must equal the one requested,
 * CSR → leaf (the issuer). Every outcome is counted; each issued certificate is logged by its SHA-256 hash.
 */
@ApplicationScoped
public class Certifier {
    private static final Logger LOG = Logger.getLogger(Certifier.class);

    public record Issued(X509Certificate leaf, IssuerState issuer) {
    }

    private final ControlConfig config;
    private final IssuerSource issuer;
    private final TokenValidator tokens;
    private final MeterRegistry registry;
    private final Map<String, Counter> outcomes = new ConcurrentHashMap<>();
    private final Clock clock = Clock.systemUTC();

    private final JoinTokens joinTokens;

    public Certifier(ControlConfig config, IssuerSource issuer, MeterRegistry registry,
            jakarta.enterprise.inject.Instance<io.fabric8.kubernetes.client.KubernetesClient> kubernetes) {
        this.config = config;
        this.issuer = issuer;
        this.joinTokens = new JoinTokens(issuer, Clock.systemUTC());
        this.tokens = config.mode() == ControlConfig.Mode.kubernetes
                ? new dev.hypha.control.k8s.TokenReviewValidator(kubernetes.get(), config.tokenAudience(),
                        config.trustDomain())
                : joinTokens;
        this.registry = registry;
    }

    /** Local mode's join tokens (minting is refused in Kubernetes mode, where ServiceAccount tokens are used). */
    public JoinTokens joinTokens() {
        return joinTokens;
    }

    public Issued certify(String identity, byte[] token, byte[] csr) throws CertifyException {
        try {
            Issued i = doCertify(identity, token, csr);
            count("issued");
            return i;
        } catch (CertifyException e) {
            count(e.outcome());
            LOG.debugf("certify for '%s' refused: %s (%s)", identity, e.getMessage(), e.code());
            throw e;
        }
    }

    private Issued doCertify(String identity, byte[] token, byte[] csr) throws CertifyException {
        String spiffe = IdentityNames.spiffeId(identity, config.trustDomain());
        if (spiffe == null) {
            throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_identity", "'" + identity
                    + "' is not an identity of this mesh; expected <sa>.<ns>.serviceaccount.identity."
                    + config.trustDomain());
        }
        if (token == null || token.length == 0) {
            throw new CertifyException(Status.Code.UNAUTHENTICATED, "bad_token", "no token");
        }
        if (csr == null || csr.length == 0) {
            throw new CertifyException(Status.Code.INVALID_ARGUMENT, "invalid_csr", "no CSR");
        }
        IssuerState s = issuer.current();
        if (!s.usable()) {
            throw new CertifyException(Status.Code.UNAVAILABLE, "issuer_unavailable", s.problem());
        }
        String proven = tokens.identityOf(token);
        if (!identity.equals(proven)) {
            throw new CertifyException(Status.Code.PERMISSION_DENIED, "wrong_identity",
                    "the token belongs to '" + proven + "', not to '" + identity + "'");
        }
        X509Certificate leaf = LeafIssuer.issue(s, identity, spiffe, csr, config.leafLifetime(), config.clockSkew(),
                clock.instant());
        LOG.infof("issued certificate sha256:%s for %s, valid until %s", hash(leaf), identity,
                leaf.getNotAfter().toInstant());
        return new Issued(leaf, s);
    }

    private void count(String outcome) {
        outcomes.computeIfAbsent(outcome, o -> Counter.builder("hypha.identity.certify")
                .description("Certify requests by outcome").tag("outcome", o).register(registry)).increment();
    }

    static String hash(X509Certificate c) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(c.getEncoded()), 0, 16);
        } catch (Exception e) {
            return "?";
        }
    }
}
