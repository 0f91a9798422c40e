package dev.hypha.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.zjsonpatch.DiffFlags;
import io.fabric8.zjsonpatch.JsonDiff;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one injection function: (pod, namespace, installed mesh, API server capabilities) → (JSON Patch, report).
 * Used by the webhook, by {@code hypha inject --manual} and checked by golden files. Pure: no I/O, no clock, no
 * randomness, so the same input always gives the same patch. Injecting an injected pod is a skip with no patch.
 */
public final class Injector {
    public static final String PROXY = "hypha-proxy";
    public static final String INIT = "hypha-init";
    public static final String INJECT = "hypha.dev/inject";
    public static final String PROXY_VERSION_ANNOTATION = "hypha.dev/proxy-version";
    public static final String SIDECAR_ANNOTATION = "hypha.dev/sidecar";
    public static final String CONTROL_PLANE_NS_LABEL = "hypha.dev/control-plane-ns";
    public static final String TOKEN_AUDIENCE = "identity.hypha.dev";
    public static final String TOKEN_VOLUME = "hypha-identity-token";
    public static final String TOKEN_DIR = "/var/run/secrets/hypha.dev/serviceaccount";
    public static final String INIT_RUN_VOLUME = "hypha-init-xtables";
    public static final String BIN = "/opt/hypha/bin/";
    public static final int INBOUND_PORT = 4143;
    public static final int OUTBOUND_PORT = 4140;
    public static final int TAP_PORT = 4190;
    public static final int ADMIN_PORT = 4191;
    static final Set<Integer> PROXY_PORTS = Set.of(OUTBOUND_PORT, INBOUND_PORT, TAP_PORT, ADMIN_PORT);
    static final Set<String> SYSTEM_NAMESPACES = Set.of("kube-system", Mesh.NAMESPACE);

    private static final ObjectMapper JSON = new ObjectMapper();

    private Injector() {
    }

    /** The outcome: the report, the JSON Patch (empty unless injected), and the pod as patched (JSON). */
    public record Result(Report report, ArrayNode patch, JsonNode pod) {
        public boolean injected() {
            return report.injected();
        }
    }

    /** Whether the webhook should consider this pod at all: it, or its namespace, opted in. */
    public static boolean optedIn(JsonNode pod, Namespace ns) {
        String podLabel = pod.path("metadata").path("labels").path(INJECT).asText(null);
        String podAnnotation = pod.path("metadata").path("annotations").path(INJECT).asText(null);
        String nsLabel = ns == null ? null : labels(ns.getMetadata()).get(INJECT);
        return "enabled".equals(podLabel) || "enabled".equals(podAnnotation) || "enabled".equals(nsLabel);
    }

    /** For callers holding the typed model: the same as {@link #inject(JsonNode, String, String, Namespace, Mesh, Capabilities)}. */
    public static Result inject(Pod pod, String namespaceName, Namespace namespace, Mesh mesh, Capabilities caps) {
        JsonNode json = JSON.valueToTree(pod);
        return inject(json, describe(json), namespaceName, namespace, mesh, caps);
    }

    /**
     * Injects the proxy into a pod given as JSON, exactly as the API server sent it (the patch is relative to
     * that). {@code what} names the pod in messages (e.g. the workload a template belongs to); {@code namespace}
     * is the pod's namespace object (for its annotations; null when unknown) and {@code namespaceName} its name.
     */
    public static Result inject(JsonNode pod, String what, String namespaceName, Namespace namespace, Mesh mesh,
            Capabilities caps) {
        List<String> notes = new ArrayList<>();
        JsonNode meta = pod.path("metadata");
        JsonNode spec = pod.path("spec");
        if (!pod.isObject() || !spec.isObject() || !spec.path("containers").isArray()) {
            return skip(pod, Reason.INVALID_CONFIG, what + " has no spec with a list of containers", notes);
        }
        if (namespaceName != null && SYSTEM_NAMESPACES.contains(namespaceName)) {
            return skip(pod, Reason.SYSTEM_NAMESPACE, what + " is in " + namespaceName
                    + ", where pods are never injected (the control plane and Kubernetes' own pods)", notes);
        }
        if ("disabled".equals(meta.path("annotations").path(INJECT).asText())
                || "disabled".equals(meta.path("labels").path(INJECT).asText())) {
            return skip(pod, Reason.INJECTION_DISABLED, what + " opted out with " + INJECT + ": disabled", notes);
        }
        if (containerNames(spec).contains(PROXY) || meta.path("annotations").has(PROXY_VERSION_ANNOTATION)) {
            return skip(pod, Reason.ALREADY_INJECTED, what + " already has the " + PROXY + " sidecar", notes);
        }
        if (spec.path("hostNetwork").asBoolean(false)) {
            return skip(pod, Reason.HOST_NETWORK, what + " uses the host's network (hostNetwork: true): a proxy there "
                    + "would intercept the node's traffic", notes);
        }
        boolean noAutomount = spec.path("automountServiceAccountToken").isBoolean()
                && !spec.path("automountServiceAccountToken").asBoolean();
        if (!caps.tokenProjection()) {
            if (noAutomount) {
                return skip(pod, Reason.NO_SERVICE_ACCOUNT_TOKEN, what + " sets automountServiceAccountToken: false "
                        + "and the API server cannot project a token for the proxy's identity", notes);
            }
            return skip(pod, Reason.NO_TOKEN_PROJECTION, "the API server cannot project ServiceAccount tokens with "
                    + "the audience " + TOKEN_AUDIENCE + " (Kubernetes 1.20+ needed)", notes);
        }
        for (JsonNode c : containers(spec)) {
            for (JsonNode p : c.path("ports")) {
                int port = p.path("containerPort").asInt(-1);
                if (PROXY_PORTS.contains(port)) {
                    return skip(pod, Reason.PORT_CONFLICT, what + " has container " + c.path("name").asText()
                            + " on port " + port + ", which the proxy needs (" + sorted(PROXY_PORTS) + ")", notes);
                }
            }
        }
        MeshValues v;
        try {
            v = mesh.values().withAnnotations(namespace == null ? null : namespace.getMetadata().getAnnotations(),
                    "namespace " + namespaceName).withAnnotations(stringMap(meta.path("annotations")), "pod");
        } catch (MeshValues.InvalidValuesException e) {
            return skip(pod, Reason.INVALID_CONFIG, what + " was not injected: " + e.getMessage(), notes);
        }
        String mode = v.get("native-sidecar");
        boolean nativeSidecar = switch (mode) {
            case "disabled" -> false;
            case "enabled" -> {
                if (!caps.nativeSidecars()) {
                    notes.add("native-sidecar=enabled, but the API server is older than 1.29: classic sidecar used");
                }
                yield caps.nativeSidecars();
            }
            default -> caps.nativeSidecars();
        };
        if (noAutomount) {
            notes.add("automountServiceAccountToken: false is kept: the proxy gets its own token, projected with "
                    + "the audience " + TOKEN_AUDIENCE + ", which the API server does not accept");
        }
        int uid = v.getInt("proxy-uid");
        for (JsonNode c : containers(spec)) {
            if (c.path("securityContext").path("runAsUser").asLong(-1) == uid) {
                notes.add("container " + c.path("name").asText() + " runs as UID " + uid + ", the proxy's: its "
                        + "traffic bypasses the proxy");
            }
        }
        JsonNode before = pod;

        // The injected pod is the pod's JSON with the sidecars added; the containers and volumes are rendered once
        // per distinct configuration and reused (this runs on every pod creation).
        Sidecars sc = sidecars(v, mesh, nativeSidecar);
        ObjectNode after = ((ObjectNode) before).deepCopy();
        ObjectNode m = after.path("metadata").isObject() ? (ObjectNode) after.get("metadata")
                : after.putObject("metadata");
        ObjectNode ann = m.path("annotations").isObject() ? (ObjectNode) m.get("annotations")
                : m.putObject("annotations");
        ann.put(PROXY_VERSION_ANNOTATION, v.get("proxy-version"));
        ann.put(SIDECAR_ANNOTATION, nativeSidecar ? "native" : "classic");
        JsonNode firstApp = after.path("spec").path("containers").path(0).path("name");
        if (!nativeSidecar && !ann.has("kubectl.kubernetes.io/default-container") && firstApp.isTextual()) {
            ann.put("kubectl.kubernetes.io/default-container", firstApp.asText());
        }
        ObjectNode lab = m.path("labels").isObject() ? (ObjectNode) m.get("labels") : m.putObject("labels");
        lab.put(CONTROL_PLANE_NS_LABEL, Mesh.NAMESPACE);
        ObjectNode s = (ObjectNode) after.get("spec");
        ArrayNode inits = JSON.createArrayNode();
        inits.add(sc.init().deepCopy());
        if (nativeSidecar) {
            inits.add(sc.proxy().deepCopy());
        }
        if (s.path("initContainers").isArray()) {
            inits.addAll((ArrayNode) s.get("initContainers"));
        }
        s.set("initContainers", inits);
        if (!nativeSidecar) {
            ArrayNode containers = JSON.createArrayNode();
            containers.add(sc.proxy().deepCopy());
            if (s.path("containers").isArray()) {
                containers.addAll((ArrayNode) s.get("containers"));
            }
            s.set("containers", containers);
        }
        ArrayNode volumes = s.path("volumes").isArray() ? (ArrayNode) s.get("volumes") : s.putArray("volumes");
        sc.volumes().forEach(vol -> volumes.add(vol.deepCopy()));

        ArrayNode patch = (ArrayNode) JsonDiff.asJson(before, after,
                EnumSet.of(DiffFlags.OMIT_MOVE_OPERATION, DiffFlags.OMIT_COPY_OPERATION));
        String message = what + " " + (nativeSidecar ? "native sidecar" : "classic sidecar") + ", proxy "
                + v.get("proxy-version");
        return new Result(new Report(Reason.INJECTED, message, notes), patch, after);
    }

    private static Container initContainer(MeshValues v) {
        List<EnvVar> env = new ArrayList<>();
        env.add(env("HYPHA_INIT_PROXY_UID", v.get("proxy-uid")));
        env.add(env("HYPHA_INIT_INBOUND_PORT", Integer.toString(INBOUND_PORT)));
        env.add(env("HYPHA_INIT_OUTBOUND_PORT", Integer.toString(OUTBOUND_PORT)));
        env.add(env("HYPHA_INIT_PROXY_PORTS", TAP_PORT + "," + ADMIN_PORT));
        addIfSet(env, "HYPHA_INIT_SKIP_INBOUND_PORTS", MeshValues.ports(v.get("skip-inbound-ports")));
        addIfSet(env, "HYPHA_INIT_SKIP_OUTBOUND_PORTS", MeshValues.ports(v.get("skip-outbound-ports")));
        addIfSet(env, "HYPHA_INIT_SKIP_OUTBOUND_SUBNETS", v.get("skip-outbound-subnets").replace(" ", ""));
        return new ContainerBuilder()
                .withName(INIT)
                .withImage(v.get("init-image") + ":" + v.get("proxy-version"))
                .withImagePullPolicy(v.get("image-pull-policy"))
                .withCommand(BIN + "hypha-init")
                .withEnv(env)
                .withResources(new ResourceRequirementsBuilder()
                        .addToRequests("cpu", new Quantity("10m")).addToRequests("memory", new Quantity("32Mi"))
                        .addToLimits("memory", new Quantity("128Mi")).build())
                .withSecurityContext(new SecurityContextBuilder()
                        .withRunAsUser(0L).withRunAsNonRoot(false).withAllowPrivilegeEscalation(false)
                        .withPrivileged(false).withReadOnlyRootFilesystem(true)
                        .withNewCapabilities().addToAdd("NET_ADMIN", "NET_RAW").addToDrop("ALL").endCapabilities()
                        .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().build())
                .withVolumeMounts(new VolumeMountBuilder().withName(INIT_RUN_VOLUME).withMountPath("/run").build())
                .build();
    }

    private static Container proxyContainer(MeshValues v, Mesh mesh, boolean nativeSidecar) {
        String td = v.get("trust-domain");
        List<EnvVar> env = new ArrayList<>();
        env.add(new EnvVarBuilder().withName("_pod_ns").withNewValueFrom().withNewFieldRef()
                .withFieldPath("metadata.namespace").endFieldRef().endValueFrom().build());
        env.add(new EnvVarBuilder().withName("_pod_sa").withNewValueFrom().withNewFieldRef()
                .withFieldPath("spec.serviceAccountName").endFieldRef().endValueFrom().build());
        env.add(env("HYPHA_PROXY_MODE", "transparent"));
        env.add(env("HYPHA_PROXY_LOG_LEVEL", v.get("proxy-log-level")));
        env.add(env("HYPHA_PROXY_INBOUND_POLICY", v.get("inbound-policy")));
        String opaque = MeshValues.ports(v.get("opaque-ports"));
        env.add(env("HYPHA_PROXY_OPAQUE_PORTS", opaque.isEmpty() ? "none" : opaque));
        env.add(env("HYPHA_PROXY_IDENTITY_ADDR", mesh.controlAddress()));
        env.add(env("HYPHA_PROXY_DESTINATION_ADDR", mesh.controlAddress()));
        env.add(env("HYPHA_PROXY_CONTROL_IDENTITY", mesh.controlIdentity()));
        env.add(env("HYPHA_PROXY_IDENTITY_TOKEN_FILE", TOKEN_DIR + "/token"));
        env.add(env("HYPHA_PROXY_IDENTITY_NAME", "$(_pod_sa).$(_pod_ns).serviceaccount.identity." + td));
        env.add(env("HYPHA_PROXY_TRUST_ANCHORS", mesh.trustAnchorsPem()));
        env.add(env("HYPHA_PROXY_EVENT_LOOP_THREADS", Integer.toString(eventLoops(v.get("proxy-cpu-request")))));
        if (!v.get("proxy-jvm-options").isEmpty()) {
            env.add(env("JAVA_TOOL_OPTIONS", v.get("proxy-jvm-options")));
        }
        var res = new ResourceRequirementsBuilder();
        putIfSet(res::addToRequests, "cpu", v.get("proxy-cpu-request"));
        putIfSet(res::addToRequests, "memory", v.get("proxy-memory-request"));
        putIfSet(res::addToLimits, "cpu", v.get("proxy-cpu-limit"));
        putIfSet(res::addToLimits, "memory", v.get("proxy-memory-limit"));
        int await = v.getInt("proxy-await-timeout-seconds");
        ContainerBuilder b = new ContainerBuilder()
                .withName(PROXY)
                .withImage(v.get("proxy-image") + ":" + v.get("proxy-version"))
                .withImagePullPolicy(v.get("image-pull-policy"))
                .withEnv(env)
                .addNewPort().withName("hypha-proxy").withContainerPort(INBOUND_PORT).withProtocol("TCP").endPort()
                .addNewPort().withName("hypha-admin").withContainerPort(ADMIN_PORT).withProtocol("TCP").endPort()
                .withStartupProbe(probe("/ready", 1, Math.max(1, await)))
                .withReadinessProbe(probe("/ready", 10, 3))
                .withLivenessProbe(probe("/live", 10, 3))
                .withResources(res.build())
                .withSecurityContext(new SecurityContextBuilder()
                        .withRunAsUser((long) v.getInt("proxy-uid")).withRunAsNonRoot(true)
                        .withAllowPrivilegeEscalation(false).withPrivileged(false).withReadOnlyRootFilesystem(true)
                        .withNewCapabilities().addToDrop("ALL").endCapabilities()
                        .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().build())
                .withVolumeMounts(new VolumeMountBuilder().withName(TOKEN_VOLUME).withMountPath(TOKEN_DIR)
                        .withReadOnly(true).build());
        if (nativeSidecar) {
            b.withRestartPolicy("Always");
        } else {
            b.withNewLifecycle()
                    .withNewPostStart().withNewExec().withCommand(BIN + "hypha-proxy", "await", await + "s")
                    .endExec().endPostStart()
                    .withNewPreStop().withNewExec().withCommand(BIN + "hypha-proxy", "wait-before-exit",
                            v.get("proxy-wait-before-exit-seconds") + "s").endExec().endPreStop()
                    .endLifecycle();
        }
        return b.build();
    }

    /** One event loop per CPU the pod requests for the proxy (at least one). */
    static int eventLoops(String cpu) {
        if (cpu.isEmpty()) {
            return 1;
        }
        double cores = cpu.endsWith("m") ? Double.parseDouble(cpu.substring(0, cpu.length() - 1)) / 1000
                : Double.parseDouble(cpu);
        return Math.max(1, Math.min(64, (int) Math.ceil(cores - 1e-9)));
    }

    private static Probe probe(String path, int period, int failures) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withNewPort(ADMIN_PORT).endHttpGet()
                .withPeriodSeconds(period).withFailureThreshold(failures).withTimeoutSeconds(1).build();
    }

    private static void putIfSet(java.util.function.BiFunction<String, Quantity, ?> put, String k, String v) {
        if (!v.isEmpty()) {
            put.apply(k, new Quantity(v));
        }
    }

    private static EnvVar env(String k, String v) {
        return new EnvVarBuilder().withName(k).withValue(v).build();
    }

    private static void addIfSet(List<EnvVar> env, String k, String v) {
        if (v != null && !v.isEmpty()) {
            env.add(env(k, v));
        }
    }

    private static Result skip(JsonNode pod, Reason reason, String message, List<String> notes) {
        return new Result(new Report(reason, message, notes), JSON.createArrayNode(), pod);
    }

    private static List<JsonNode> containers(JsonNode spec) {
        List<JsonNode> all = new ArrayList<>();
        spec.path("initContainers").forEach(all::add);
        spec.path("containers").forEach(all::add);
        return all;
    }

    private static Set<String> containerNames(JsonNode spec) {
        Set<String> names = new java.util.HashSet<>();
        for (JsonNode c : containers(spec)) {
            names.add(c.path("name").asText());
        }
        return names;
    }

    private static Map<String, String> stringMap(JsonNode obj) {
        if (!obj.isObject()) {
            return Map.of();
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : obj.properties()) {
            m.put(e.getKey(), e.getValue().asText());
        }
        return m;
    }

    /** What injection adds, as JSON: rendered once per distinct configuration. */
    record Sidecars(JsonNode init, JsonNode proxy, List<JsonNode> volumes) {
    }

    private record SidecarKey(Map<String, String> values, String anchors, boolean nativeSidecar) {
    }

    private static final int SIDECAR_CACHE_MAX = 64;
    private static final Map<SidecarKey, Sidecars> SIDECARS = new ConcurrentHashMap<>();

    static Sidecars sidecars(MeshValues v, Mesh mesh, boolean nativeSidecar) {
        SidecarKey key = new SidecarKey(v.asMap(), mesh.trustAnchorsPem(), nativeSidecar);
        Sidecars sc = SIDECARS.get(key);
        if (sc == null) {
            if (SIDECARS.size() >= SIDECAR_CACHE_MAX) {
                SIDECARS.clear(); // bounded: many distinct per-pod configurations just render again
            }
            List<JsonNode> volumes = List.of(
                    JSON.valueToTree(new VolumeBuilder().withName(TOKEN_VOLUME).withNewProjected().addNewSource()
                            .withNewServiceAccountToken().withAudience(TOKEN_AUDIENCE).withExpirationSeconds(86400L)
                            .withPath("token").endServiceAccountToken().endSource().endProjected().build()),
                    JSON.valueToTree(new VolumeBuilder().withName(INIT_RUN_VOLUME).withNewEmptyDir().endEmptyDir()
                            .build()));
            sc = new Sidecars(JSON.valueToTree(initContainer(v)), JSON.valueToTree(proxyContainer(v, mesh,
                    nativeSidecar)), volumes);
            SIDECARS.put(key, sc);
        }
        return sc;
    }

    /** How messages name a pod: by name, by generateName (a pod being created has no name yet), or not at all. */
    public static String describe(JsonNode pod) {
        JsonNode m = pod.path("metadata");
        if (!m.path("name").asText("").isEmpty()) {
            return "pod " + m.path("name").asText();
        }
        if (!m.path("generateName").asText("").isEmpty()) {
            return "pod " + m.path("generateName").asText() + "*";
        }
        return "the pod";
    }

    static Map<String, String> labels(ObjectMeta m) {
        return m == null || m.getLabels() == null ? Map.of() : m.getLabels();
    }

    private static List<Integer> sorted(Set<Integer> s) {
        return s.stream().sorted().toList();
    }
}
