package dev.hypha.control.k8s;

import dev.hypha.control.identity.CertifyException;
import dev.hypha.control.identity.TokenValidator;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;

/**
 * Kubernetes mode's "token → identity": a TokenReview with the mesh's audience. The API server must say the token
 * is authenticated, for that audience, and belongs to {@code system:serviceaccount:<ns>:<sa>}; the identity is
 * then {@code <sa>.<ns>.serviceaccount.identity.<trust-domain>}. The token itself is never logged.
 */
public final class TokenReviewValidator implements TokenValidator {
    private static final String SA_PREFIX = "system:serviceaccount:";

    private final KubernetesClient client;
    private final String audience;
    private final String trustDomain;

    public TokenReviewValidator(KubernetesClient client, String audience, String trustDomain) {
        this.client = client;
        this.audience = audience;
        this.trustDomain = trustDomain;
    }

    @Override
    public String identityOf(byte[] token) throws CertifyException {
        TokenReview review = new TokenReviewBuilder().withNewSpec()
                .withToken(new String(token, StandardCharsets.US_ASCII).trim()).withAudiences(audience).endSpec().build();
        TokenReview result;
        try {
            result = client.resource(review).create();
        } catch (KubernetesClientException e) {
            throw new CertifyException(Status.Code.UNAVAILABLE, "token_review_failed",
                    "the TokenReview could not be made (HTTP " + e.getCode() + "); is the control plane allowed to "
                            + "create tokenreviews?");
        }
        var status = result == null ? null : result.getStatus();
        if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
            String why = status == null || status.getError() == null ? "not authenticated" : status.getError();
            throw new CertifyException(Status.Code.UNAUTHENTICATED, "bad_token", "the token was refused: " + why);
        }
        if (status.getAudiences() != null && !status.getAudiences().isEmpty()
                && !status.getAudiences().contains(audience)) {
            throw new CertifyException(Status.Code.UNAUTHENTICATED, "bad_token",
                    "the token is not for the audience " + audience);
        }
        String user = status.getUser() == null ? null : status.getUser().getUsername();
        if (user == null || !user.startsWith(SA_PREFIX)) {
            throw new CertifyException(Status.Code.UNAUTHENTICATED, "bad_token",
                    "the token does not belong to a ServiceAccount (user " + user + ")");
        }
        String[] p = user.substring(SA_PREFIX.length()).split(":", -1);
        if (p.length != 2 || p[0].isEmpty() || p[1].isEmpty()) {
            throw new CertifyException(Status.Code.UNAUTHENTICATED, "bad_token", "unexpected user " + user);
        }
        return p[1] + "." + p[0] + ".serviceaccount.identity." + trustDomain;
    }
}
