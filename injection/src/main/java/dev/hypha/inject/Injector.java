package dev.hypha.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
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

    /** The outcome: the report, the JSON Patch (empty unless injected), and the pod as patched. */
    public record Result(Report report, ArrayNode patch, Pod pod) {
        public boolean injected() {
            return report.injected();
        }
    }

    /** Whether the webhook should consider this pod at all: it, or its namespace, opted in. */
    public static boolean optedIn(Pod pod, Namespace ns) {
        String podLabel = labels(pod.getMetadata()).get(INJECT);
        String podAnnotation = annotations(pod.getMetadata()).get(INJECT);
        String nsLabel = ns == null ? null : labels(ns.getMetadata()).get(INJECT);
        return "enabled".equals(podLabel) || "enabled".equals(podAnnotation) || "enabled".equals(nsLabel);
    }

    /**
     * Injects the proxy into a pod. {@code namespace} is the pod's namespace object (for its annotations; may be
     * null when unknown) and {@code namespaceName} its name.
     */
    public static Result inject(Pod pod, String namespaceName, Namespace namespace, Mesh mesh, Capabilities caps) {
        return inject(pod, describe(pod), namespaceName, namespace, mesh, caps);
    }

    /** As above; {@code what} names the pod in messages (e.g. the workload a template belongs to). */
    public static Result inject(Pod pod, String what, String namespaceName, Namespace namespace, Mesh mesh,
            Capabilities caps) {
        JsonNode before = JSON.valueToTree(pod);
        List<String> notes = new ArrayList<>();
        ObjectMeta meta = pod.getMetadata() == null ? new ObjectMeta() : pod.getMetadata();
        PodSpec spec = pod.getSpec();
        if (spec == null) {
            return skip(pod, Reason.INVALID_CONFIG, what + " has no spec", notes);
        }
        if (namespaceName != null && SYSTEM_NAMESPACES.contains(namespaceName)) {
            return skip(pod, Reason.SYSTEM_NAMESPACE, what + " is in " + namespaceName
                    + ", where pods are never injected (the control plane and Kubernetes' own pods)", notes);
        }
        if ("disabled".equals(annotations(meta).get(INJECT)) || "disabled".equals(labels(meta).get(INJECT))) {
            return skip(pod, Reason.INJECTION_DISABLED, what + " opted out with " + INJECT + ": disabled", notes);
        }
        if (hasContainer(spec, PROXY) || annotations(meta).containsKey(PROXY_VERSION_ANNOTATION)) {
            return skip(pod, Reason.ALREADY_INJECTED, what + " already has the " + PROXY + " sidecar", notes);
        }
        if (Boolean.TRUE.equals(spec.getHostNetwork())) {
            return skip(pod, Reason.HOST_NETWORK, what + " uses the host's network (hostNetwork: true): a proxy there "
                    + "would intercept the node's traffic", notes);
        }
        if (!caps.tokenProjection()) {
            if (Boolean.FALSE.equals(spec.getAutomountServiceAccountToken())) {
                return skip(pod, Reason.NO_SERVICE_ACCOUNT_TOKEN, what + " sets automountServiceAccountToken: false "
                        + "and the API server cannot project a token for the proxy's identity", notes);
            }
            return skip(pod, Reason.NO_TOKEN_PROJECTION, "the API server cannot project ServiceAccount tokens with "
                    + "the audience " + TOKEN_AUDIENCE + " (Kubernetes 1.20+ needed)", notes);
        }
        for (Container c : allContainers(spec)) {
            for (ContainerPort p : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                if (p.getContainerPort() != null && PROXY_PORTS.contains(p.getContainerPort())) {
                    return skip(pod, Reason.PORT_CONFLICT, what + " has container " + c.getName() + " on port "
                            + p.getContainerPort() + ", which the proxy needs (" + sorted(PROXY_PORTS) + ")", notes);
                }
            }
        }
        MeshValues v;
        try {
            v = mesh.values().withAnnotations(namespace == null ? null : namespace.getMetadata().getAnnotations(),
                    "namespace " + namespaceName).withAnnotations(meta.getAnnotations(), "pod");
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
        if (Boolean.FALSE.equals(spec.getAutomountServiceAccountToken())) {
            notes.add("automountServiceAccountToken: false is kept: the proxy gets its own token, projected with "
                    + "the audience " + TOKEN_AUDIENCE + ", which the API server does not accept");
        }
        int uid = v.getInt("proxy-uid");
        for (Container c : allContainers(spec)) {
            if (c.getSecurityContext() != null && Long.valueOf(uid).equals(c.getSecurityContext().getRunAsUser())) {
                notes.add("container " + c.getName() + " runs as UID " + uid + ", the proxy's: its traffic bypasses "
                        + "the proxy");
            }
        }

        Pod out = copy(pod);
        ObjectMeta m = out.getMetadata() == null ? new ObjectMeta() : out.getMetadata();
        out.setMetadata(m);
        PodSpec s = out.getSpec();
        Map<String, String> ann = new LinkedHashMap<>(annotations(m));
        ann.put(PROXY_VERSION_ANNOTATION, v.get("proxy-version"));
        ann.put(SIDECAR_ANNOTATION, nativeSidecar ? "native" : "classic");
        if (!nativeSidecar && !ann.containsKey("kubectl.kubernetes.io/default-container")
                && s.getContainers() != null && !s.getContainers().isEmpty()) {
            ann.put("kubectl.kubernetes.io/default-container", s.getContainers().get(0).getName());
        }
        m.setAnnotations(ann);
        Map<String, String> lab = new LinkedHashMap<>(labels(m));
        lab.put(CONTROL_PLANE_NS_LABEL, Mesh.NAMESPACE);
        m.setLabels(lab);

        List<Container> inits = new ArrayList<>();
        inits.add(initContainer(v));
        Container proxy = proxyContainer(v, mesh, nativeSidecar);
        List<Container> containers = new ArrayList<>(s.getContainers() == null ? List.of() : s.getContainers());
        if (nativeSidecar) {
            inits.add(proxy);
        } else {
            containers.add(0, proxy);
        }
        if (s.getInitContainers() != null) {
            inits.addAll(s.getInitContainers());
        }
        s.setInitContainers(inits);
        s.setContainers(containers);
        List<Volume> volumes = new ArrayList<>(s.getVolumes() == null ? List.of() : s.getVolumes());
        volumes.add(new VolumeBuilder().withName(TOKEN_VOLUME).withNewProjected().addNewSource()
                .withNewServiceAccountToken().withAudience(TOKEN_AUDIENCE).withExpirationSeconds(86400L)
                .withPath("token").endServiceAccountToken().endSource().endProjected().build());
        volumes.add(new VolumeBuilder().withName(INIT_RUN_VOLUME).withNewEmptyDir().endEmptyDir().build());
        s.setVolumes(volumes);

        JsonNode after = JSON.valueToTree(out);
        ArrayNode patch = (ArrayNode) JsonDiff.asJson(before, after,
                EnumSet.of(DiffFlags.OMIT_MOVE_OPERATION, DiffFlags.OMIT_COPY_OPERATION));
        String message = what + " " + (nativeSidecar ? "native sidecar" : "classic sidecar") + ", proxy "
                + v.get("proxy-version");
        return new Result(new Report(Reason.INJECTED, message, notes), patch, out);
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

    private static Result skip(Pod pod, Reason reason, String message, List<String> notes) {
        return new Result(new Report(reason, message, notes), JSON.createArrayNode(), pod);
    }

    static Pod copy(Pod pod) {
        return JSON.convertValue(JSON.valueToTree(pod), Pod.class);
    }

    static boolean hasContainer(PodSpec spec, String name) {
        for (Container c : allContainers(spec)) {
            if (name.equals(c.getName())) {
                return true;
            }
        }
        return false;
    }

    static List<Container> allContainers(PodSpec spec) {
        List<Container> all = new ArrayList<>();
        if (spec.getInitContainers() != null) {
            all.addAll(spec.getInitContainers());
        }
        if (spec.getContainers() != null) {
            all.addAll(spec.getContainers());
        }
        return all;
    }

    static String describe(Pod pod) {
        ObjectMeta m = pod.getMetadata();
        if (m != null && m.getName() != null && !m.getName().isEmpty()) {
            return "pod " + m.getName();
        }
        if (m != null && m.getGenerateName() != null) {
            return "pod " + m.getGenerateName() + "*";
        }
        return "the pod";
    }

    static Map<String, String> annotations(ObjectMeta m) {
        return m == null || m.getAnnotations() == null ? Map.of() : m.getAnnotations();
    }

    static Map<String, String> labels(ObjectMeta m) {
        return m == null || m.getLabels() == null ? Map.of() : m.getLabels();
    }

    private static List<Integer> sorted(Set<Integer> s) {
        return s.stream().sorted().toList();
    }
}
