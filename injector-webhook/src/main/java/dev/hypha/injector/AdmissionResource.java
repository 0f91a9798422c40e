package dev.hypha.injector;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.hypha.inject.Injector;
import dev.hypha.inject.Mesh;
import dev.hypha.inject.Reason;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.smallrye.common.annotation.NonBlocking;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * {@code POST /inject}: an {@code AdmissionReview} (admission.k8s.io/v1) for a Pod CREATE in, the review with a
 * JSON Patch (or none, and why) out. Every input gets a well-formed review with {@code allowed: true} — malformed
 * JSON, a wrong kind, an oversized body, an internal error — so that a bad request never blocks a pod and never
 * gets a 500. Each answer is counted in {@code hypha_injector_admissions_total{result,reason}}; skips and failures
 * also become Events on the pod's owner (or its namespace). Pod bodies and tokens are never logged.
 */
@Path("/inject")
public class AdmissionResource {
    private static final Logger LOG = Logger.getLogger(AdmissionResource.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonFactory STREAMING = new JsonFactory();
    /** Skips that are routine and not worth an Event: the webhook was called for a pod that is not meshed by choice. */
    private static final Set<Reason> QUIET = Set.of(Reason.NOT_ENABLED, Reason.INJECTION_DISABLED,
            Reason.ALREADY_INJECTED);

    private final MeshState state;
    private final Events events;
    private final InjectorConfig config;
    private final MeterRegistry metrics;
    private final Timer latency;

    public AdmissionResource(MeshState state, Events events, InjectorConfig config, MeterRegistry metrics) {
        this.state = state;
        this.events = events;
        this.config = config;
        this.metrics = metrics;
        this.latency = Timer.builder("hypha_injector_admission_duration_seconds")
                .description("time to answer one AdmissionReview").publishPercentileHistogram(false)
                .register(metrics);
    }

    /**
     * Answered on the event loop (measured: a hand-off to a worker thread and back doubled the median latency at
     * 100 requests/s); the rare request whose namespace is not in the informer's cache yet is answered on a worker,
     * where the namespace may be read from the API server.
     */
    @POST
    @NonBlocking
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<byte[]> review(byte[] body) {
        long start = System.nanoTime();
        ObjectNode fast = answer(body, false);
        if (fast != null) {
            return Uni.createFrom().item(write(fast, start));
        }
        return Uni.createFrom().item(() -> write(answer(body, true), start))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
    }

    private byte[] write(ObjectNode review, long start) {
        try {
            return JSON.writeValueAsBytes(review);
        } catch (IOException e) {
            throw new IllegalStateException(e); // writing a tree of strings cannot fail
        } finally {
            latency.record(System.nanoTime() - start, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }

    /** The answer; null when {@code mayBlock} is false and the answer needs a blocking namespace read. */
    ObjectNode answer(byte[] body, boolean mayBlock) {
        if (body == null || body.length == 0) {
            return refuse("", Reason.BAD_REQUEST, "empty body: expected an AdmissionReview (admission.k8s.io/v1)");
        }
        if (body.length > config.maxBodyBytes()) {
            return refuse(uidOf(body), Reason.BAD_REQUEST, "request of " + body.length + " bytes is larger than "
                    + config.maxBodyBytes() + " (hypha.injector.max-body-bytes): not injected");
        }
        JsonNode review;
        try {
            review = JSON.readTree(body);
        } catch (IOException e) {
            return refuse("", Reason.BAD_REQUEST, "body is not JSON: expected an AdmissionReview (admission.k8s.io/v1)");
        }
        if (review == null) {
            review = JSON.missingNode();
        }
        JsonNode request = review.get("request");
        String uid = request == null ? "" : request.path("uid").asText("");
        if (!"AdmissionReview".equals(review.path("kind").asText())
                || !"admission.k8s.io/v1".equals(review.path("apiVersion").asText()) || request == null
                || !request.isObject()) {
            return refuse(uid, Reason.BAD_REQUEST, "expected an AdmissionReview of apiVersion admission.k8s.io/v1 "
                    + "with a request; got kind '" + review.path("kind").asText("") + "', apiVersion '"
                    + review.path("apiVersion").asText("") + "'");
        }
        JsonNode kind = request.path("kind");
        String op = request.path("operation").asText("");
        if (!"Pod".equals(kind.path("kind").asText()) || !kind.path("group").asText("").isEmpty()
                || !"CREATE".equals(op)) {
            return refuse(uid, Reason.UNSUPPORTED_KIND, "hypha-injector handles Pod CREATE only; got "
                    + kind.path("kind").asText("?") + " " + op);
        }
        String ns = request.path("namespace").asText("");
        boolean dryRun = request.path("dryRun").asBoolean(false);
        // The pod stays JSON, exactly as the API server sent it: the patch is relative to it, and no per-request
        // conversion to the typed model is paid for. The API server has validated it; the shape is checked anyway.
        JsonNode pod = request.path("object");
        JsonNode containers = pod.path("spec").path("containers");
        if (!pod.isObject() || !containers.isArray() || containers.isEmpty() || !containers.get(0).isObject()) {
            return refuse(uid, Reason.BAD_REQUEST, "request.object is not a Pod: expected spec.containers to be a "
                    + "non-empty list of containers");
        }
        try {
            return inject(uid, ns, pod, dryRun, mayBlock);
        } catch (RuntimeException e) {
            LOG.errorf(e, "injecting a pod in namespace %s failed", ns);
            metrics.counter("hypha_injector_admissions_total", "result", "error", "reason", "internal_error")
                    .increment();
            if (!dryRun) {
                events.emit(about(pod, ns), ns, "Warning", "InjectionFailed",
                        "hypha-injector failed and did not inject the proxy: " + e);
            }
            return response(uid, null, "hypha-injector failed: " + e.getMessage());
        }
    }

    private ObjectNode inject(String uid, String ns, JsonNode pod, boolean dryRun, boolean mayBlock) {
        Mesh mesh = state.mesh();
        if (mesh == null) {
            count("error", Reason.INVALID_CONFIG);
            String msg = "not injected: " + state.problem();
            if (!dryRun) {
                events.emit(about(pod, ns), ns, "Warning", "InjectionSkipped", Reason.INVALID_CONFIG.code() + ": "
                        + msg);
            }
            return response(uid, null, msg);
        }
        Namespace namespace = state.cachedNamespace(ns);
        if (namespace == null && !ns.isEmpty()) {
            if (!mayBlock) {
                return null;
            }
            namespace = state.namespace(ns);
        }
        if (!Injector.optedIn(pod, namespace)) {
            count("skipped", Reason.NOT_ENABLED);
            return response(uid, null, "not injected: neither the pod nor namespace " + ns + " has "
                    + Injector.INJECT + "=enabled");
        }
        Injector.Result r = Injector.inject(pod, Injector.describe(pod), ns, namespace, mesh, state.capabilities());
        if (r.injected()) {
            count("injected", Reason.INJECTED);
            return response(uid, r.patch(), null);
        }
        Reason reason = r.report().reason();
        count(reason == Reason.INVALID_CONFIG ? "error" : "skipped", reason);
        if (!dryRun && !QUIET.contains(reason)) {
            events.emit(about(pod, ns), ns, reason == Reason.INVALID_CONFIG ? "Warning" : "Normal",
                    "InjectionSkipped", reason.code() + ": " + r.report().message());
        }
        return response(uid, null, "not injected: " + reason.code() + ": " + r.report().message());
    }

    private void count(String result, Reason reason) {
        metrics.counter("hypha_injector_admissions_total", "result", result, "reason", reason.code()).increment();
    }

    private ObjectNode refuse(String uid, Reason reason, String message) {
        count("error", reason);
        LOG.debugf("bad admission request: %s", message);
        return response(uid, null, message);
    }

    /** The pod has no name yet at CREATE: Events go to its owner (e.g. the ReplicaSet), else to the namespace. */
    static ObjectReference about(JsonNode pod, String ns) {
        JsonNode o = pod.path("metadata").path("ownerReferences").path(0);
        if (o.isObject()) {
            return new ObjectReferenceBuilder().withApiVersion(o.path("apiVersion").asText())
                    .withKind(o.path("kind").asText()).withName(o.path("name").asText())
                    .withUid(o.path("uid").asText(null)).withNamespace(ns).build();
        }
        String name = pod.path("metadata").path("name").asText("");
        if (!name.isEmpty()) {
            return new ObjectReferenceBuilder().withApiVersion("v1").withKind("Pod").withName(name).withNamespace(ns)
                    .build();
        }
        return new ObjectReferenceBuilder().withApiVersion("v1").withKind("Namespace").withName(ns).build();
    }

    static ObjectNode response(String uid, ArrayNode patch, String message) {
        ObjectNode review = JSON.createObjectNode();
        review.put("apiVersion", "admission.k8s.io/v1");
        review.put("kind", "AdmissionReview");
        ObjectNode resp = review.putObject("response");
        resp.put("uid", uid);
        resp.put("allowed", true);
        if (patch != null) {
            resp.put("patchType", "JSONPatch");
            resp.put("patch", Base64.getEncoder().encodeToString(patch.toString().getBytes(StandardCharsets.UTF_8)));
        }
        if (message != null) {
            resp.putObject("status").put("message", message);
        }
        return review;
    }

    /** request.uid from a body too large to parse whole: a streaming scan that stops as soon as it is found. */
    static String uidOf(byte[] body) {
        try (JsonParser p = STREAMING.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return "";
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if ("request".equals(field) && t == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String f = p.currentName();
                        JsonToken v = p.nextToken();
                        if ("uid".equals(f) && v == JsonToken.VALUE_STRING) {
                            return p.getText();
                        }
                        p.skipChildren();
                    }
                    return "";
                }
                p.skipChildren();
            }
        } catch (IOException e) {
            // fall through: no uid to echo
        }
        return "";
    }
}
