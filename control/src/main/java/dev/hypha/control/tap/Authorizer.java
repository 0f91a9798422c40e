package dev.hypha.control.tap;

import dev.hypha.api.v1.Resource;
import dev.hypha.control.ControlConfig;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.grpc.Status;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Who may tap and read stats. Kubernetes mode: the caller's bearer token (from their kubeconfig) goes to a
 * TokenReview; the user it names must be allowed verb {@code tap} (Tap.Observe) or {@code get} (Stats.Get) on
 * resource {@code <kind plural>} (e.g. {@code deployments}) in API group {@code tap.hypha.dev}, for the target's
 * namespace and name, by a SubjectAccessReview. Local mode: the token must be the control plane's local token
 * ({@code <state-dir>/cli-token}, made at first start, readable by its owner only). Tokens are never logged.
 */
@ApplicationScoped
public class Authorizer {
    private static final Logger LOG = Logger.getLogger(Authorizer.class);
    public static final String GROUP = "tap.hypha.dev";
    public static final String TOKEN_FILE = "cli-token";

    private final ControlConfig config;
    private final Instance<KubernetesClient> client;
    private volatile byte[] localToken;

    public Authorizer(ControlConfig config, Instance<KubernetesClient> client) {
        this.config = config;
        this.client = client;
    }

    /** Allows the call or throws UNAUTHENTICATED / PERMISSION_DENIED / UNAVAILABLE with a message. */
    public void check(String bearer, String verb, Resource target) {
        if (bearer == null || bearer.isBlank()) {
            throw Status.UNAUTHENTICATED.withDescription("no bearer token: " + (config.mode() == ControlConfig.Mode.local
                    ? "send the control plane's local token (hypha --local reads it from the demo's context)"
                    : "the CLI sends the token of your kubeconfig user; a user authenticated by client certificate "
                            + "needs a token (e.g. kubectl create token <serviceaccount>)")).asRuntimeException();
        }
        if (config.mode() == ControlConfig.Mode.local) {
            byte[] want = localToken();
            if (!MessageDigest.isEqual(want, bearer.trim().getBytes(StandardCharsets.US_ASCII))) {
                throw Status.UNAUTHENTICATED.withDescription("the token is not this control plane's local token")
                        .asRuntimeException();
            }
            return;
        }
        KubernetesClient k = client.get();
        TokenReview review;
        try {
            review = k.resource(new TokenReviewBuilder().withNewSpec().withToken(bearer.trim()).endSpec().build())
                    .create();
        } catch (KubernetesClientException e) {
            throw Status.UNAVAILABLE.withDescription("the TokenReview could not be made (HTTP " + e.getCode()
                    + "); is hypha-control allowed to create tokenreviews?").asRuntimeException();
        }
        var st = review == null ? null : review.getStatus();
        if (st == null || !Boolean.TRUE.equals(st.getAuthenticated()) || st.getUser() == null) {
            String why = st == null || st.getError() == null ? "not authenticated" : st.getError();
            throw Status.UNAUTHENTICATED.withDescription("the API server refused the token: " + why)
                    .asRuntimeException();
        }
        var user = st.getUser();
        Map<String, List<String>> extra = new HashMap<>();
        if (user.getExtra() != null) {
            user.getExtra().forEach((key, v) -> extra.put(key, new ArrayList<>(v)));
        }
        String resource = plural(target.getKind());
        String ns = target.getAllNamespaces() ? "" : target.getKind().equals("namespace") && !target.getName().isEmpty()
                ? target.getName() : target.getNamespace();
        SubjectAccessReview sar = new SubjectAccessReviewBuilder().withNewSpec().withUser(user.getUsername())
                .withUid(user.getUid()).withGroups(user.getGroups()).withExtra(extra).withNewResourceAttributes()
                .withGroup(GROUP).withResource(resource).withVerb(verb).withNamespace(ns).withName(target.getName())
                .endResourceAttributes().endSpec().build();
        SubjectAccessReview answer;
        try {
            answer = k.resource(sar).create();
        } catch (KubernetesClientException e) {
            throw Status.UNAVAILABLE.withDescription("the SubjectAccessReview could not be made (HTTP " + e.getCode()
                    + "); is hypha-control allowed to create subjectaccessreviews?").asRuntimeException();
        }
        if (answer == null || answer.getStatus() == null || !Boolean.TRUE.equals(answer.getStatus().getAllowed())) {
            String reason = answer == null || answer.getStatus() == null || answer.getStatus().getReason() == null
                    || answer.getStatus().getReason().isBlank() ? "" : " (" + answer.getStatus().getReason() + ")";
            LOG.infof("refused %s of %s %s/%s to user %s", verb, resource, ns, target.getName(), user.getUsername());
            throw Status.PERMISSION_DENIED.withDescription("user " + user.getUsername() + " may not " + verb + " "
                    + resource + (target.getName().isEmpty() ? "" : " " + target.getName()) + " in namespace "
                    + (ns.isEmpty() ? "(all)" : ns) + reason + ": grant verb '" + verb + "' on resource '" + resource
                    + "' of API group " + GROUP + " (see the ClusterRole hypha-viewer in kubernetes/control/rbac.yaml)")
                    .asRuntimeException();
        }
    }

    static String plural(String kind) {
        return switch (kind.toLowerCase(Locale.ROOT)) {
            case "namespace" -> "namespaces";
            case "deployment" -> "deployments";
            case "statefulset" -> "statefulsets";
            case "daemonset" -> "daemonsets";
            case "pod" -> "pods";
            case "service" -> "services";
            default -> kind + "s";
        };
    }

    /** The local token, made at first use in the state directory. */
    byte[] localToken() {
        byte[] t = localToken;
        if (t != null) {
            return t;
        }
        synchronized (this) {
            if (localToken != null) {
                return localToken;
            }
            Path dir = config.stateDir().orElseThrow(() -> Status.FAILED_PRECONDITION.withDescription(
                    "local mode needs hypha.control.state-dir for tap and stats (the local token is kept there)")
                    .asRuntimeException());
            localToken = readOrMake(dir.resolve(TOKEN_FILE));
            return localToken;
        }
    }

    static byte[] readOrMake(Path file) {
        try {
            if (Files.exists(file)) {
                return Files.readString(file, StandardCharsets.US_ASCII).trim().getBytes(StandardCharsets.US_ASCII);
            }
            Files.createDirectories(file.getParent());
            byte[] raw = new byte[32];
            new SecureRandom().nextBytes(raw);
            String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
            Path tmp = Files.createTempFile(file.getParent(), "cli-token", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, token + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return token.getBytes(StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw Status.FAILED_PRECONDITION.withDescription("cannot read or make the local token " + file + ": "
                    + e.getMessage()).asRuntimeException();
        }
    }

    /** Local mode: makes the token at start, so that the demo can hand it to the CLI. */
    void start(@jakarta.enterprise.event.Observes io.quarkus.runtime.StartupEvent e) {
        if (config.mode() == ControlConfig.Mode.local && config.stateDir().isPresent()) {
            localToken();
        }
    }
}
