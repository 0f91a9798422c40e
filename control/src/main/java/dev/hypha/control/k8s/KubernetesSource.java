package dev.hypha.control.k8s;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.control.ControlConfig;
import dev.hypha.control.destination.Endpoint;
import dev.hypha.control.destination.ServiceSource;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Typed;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Kubernetes mode's service source: informers on Services, EndpointSlices, Pods and ServiceProfiles. A target
 * {@code <svc>.<ns>.svc.<cluster-domain>:<port>} resolves through the service port (its target port, named or
 * numbered) to the ready, non-terminating addresses of the service's EndpointSlices; {@code <pod-ip>:<port>} to
 * that pod. An endpoint whose pod runs a Hypha proxy (a container named {@code hypha-proxy}) carries the
 * identity of the pod's ServiceAccount and the h2 hint. An informer event re-computes the watched targets of its
 * namespace (a service name's own namespace; for an address, the namespace of the Service or Pod it resolves to now
 * or did at the last computation; an address that resolves to nothing, at every event) and notifies those that
 * changed; a target is computed from indexes (a service's EndpointSlices by the service, a Service by its ClusterIP,
 * a Pod by its IP), so the cost of an event grows with the targets watched in its namespace and their own endpoints,
 * not with the size of the cluster.
 */
@ApplicationScoped
@Typed(KubernetesSource.class)
public class KubernetesSource implements ServiceSource {
    private static final Logger LOG = Logger.getLogger(KubernetesSource.class);
    static final String PROXY_CONTAINER = "hypha-proxy";
    static final ResourceDefinitionContext PROFILES = new ResourceDefinitionContext.Builder()
            .withGroup("hypha.dev").withVersion("v1alpha1").withPlural("serviceprofiles").withKind("ServiceProfile")
            .withNamespaced(true).build();

    /** EndpointSlices by the service they belong to: {@code <namespace>/<service>}. */
    static final String SLICES_BY_SERVICE = "service";
    /** Services by their ClusterIP (not for headless ones). */
    static final String SERVICES_BY_CLUSTER_IP = "clusterIP";
    /** Pods by their IP. */
    static final String PODS_BY_IP = "podIP";

    private final ControlConfig config;
    private final Instance<KubernetesClient> clientInstance;
    private final Map<String, List<Consumer<Snapshot>>> watchers = new ConcurrentHashMap<>();
    private final Map<String, Snapshot> lastSent = new ConcurrentHashMap<>();
    /** The namespace each watched target resolved to when it was last computed (absent: none). */
    private final Map<String, String> lastNamespace = new ConcurrentHashMap<>();
    /** How many times each watched target was computed (guarded by this; what the tests read). */
    private final Map<String, Long> computations = new HashMap<>();
    /**
     * The last valid translation of each ServiceProfile (namespace/fqdn) and the object version it was made from: an
     * event that leaves a ServiceProfile alone reuses it instead of parsing the spec and compiling its regular
     * expressions again for every target it touches.
     */
    private final Map<String, Translation> lastGoodProfiles = new ConcurrentHashMap<>();
    /** The version of each ServiceProfile last found invalid (its Warning is recorded once). */
    private final Map<String, Version> reportedInvalid = new ConcurrentHashMap<>();
    private SharedIndexInformer<Service> services;
    private SharedIndexInformer<EndpointSlice> slices;
    private SharedIndexInformer<Pod> pods;
    private SharedIndexInformer<GenericKubernetesResource> profiles;
    private SharedIndexInformer<GenericKubernetesResource> linkerdProfiles;
    static final ResourceDefinitionContext LINKERD_PROFILES = new ResourceDefinitionContext.Builder()
            .withGroup("linkerd.io").withVersion("v1alpha2").withPlural("serviceprofiles").withKind("ServiceProfile")
            .withNamespaced(true).build();

    public KubernetesSource(ControlConfig config, Instance<KubernetesClient> client) {
        this.config = config;
        this.clientInstance = client;
    }

    void start(@Observes StartupEvent e) {
        if (config.mode() != ControlConfig.Mode.kubernetes) {
            return;
        }
        KubernetesClient client = clientInstance.get();
        ResourceEventHandler<Object> h = new ResourceEventHandler<>() {
            @Override
            public void onAdd(Object o) {
                changed(o);
            }

            @Override
            public void onUpdate(Object a, Object b) {
                changed(b); // a namespace never changes
            }

            @Override
            public void onDelete(Object o, boolean unknown) {
                changed(o);
            }
        };
        services = client.services().inAnyNamespace()
                .withIndexers(Map.of(SERVICES_BY_CLUSTER_IP, KubernetesSource::clusterIp)).inform(cast(h), 0);
        slices = client.discovery().v1().endpointSlices().inAnyNamespace()
                .withIndexers(Map.of(SLICES_BY_SERVICE, KubernetesSource::sliceService)).inform(cast(h), 0);
        pods = client.pods().inAnyNamespace().withIndexers(Map.of(PODS_BY_IP, KubernetesSource::podIp))
                .inform(cast(h), 0);
        profiles = client.genericKubernetesResources(PROFILES).inAnyNamespace().inform(cast(h), 0);
        if (config.linkerdProfiles()) {
            linkerdProfiles = client.genericKubernetesResources(LINKERD_PROFILES).inAnyNamespace().inform(cast(h), 0);
            LOG.info("also reading linkerd.io/v1alpha2 ServiceProfiles (a hypha.dev profile for the same service wins)");
        }
        LOG.info("watching Services, EndpointSlices, Pods and ServiceProfiles in all namespaces");
    }

    static List<String> clusterIp(Service svc) {
        String ip = svc.getSpec() == null ? null : svc.getSpec().getClusterIP();
        return ip == null || ip.isEmpty() || "None".equals(ip) ? List.of() : List.of(ip);
    }

    static List<String> sliceService(EndpointSlice slice) {
        Map<String, String> labels = slice.getMetadata().getLabels();
        String name = labels == null ? null : labels.get("kubernetes.io/service-name");
        return name == null ? List.of() : List.of(slice.getMetadata().getNamespace() + "/" + name);
    }

    static List<String> podIp(Pod pod) {
        String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
        return ip == null || ip.isEmpty() ? List.of() : List.of(ip);
    }

    @SuppressWarnings("unchecked")
    private static <T> ResourceEventHandler<T> cast(ResourceEventHandler<Object> h) {
        return (ResourceEventHandler<T>) (ResourceEventHandler<?>) h;
    }

    void stop(@Observes ShutdownEvent e) {
        for (SharedIndexInformer<?> i : new SharedIndexInformer<?>[] {services, slices, pods, profiles, linkerdProfiles}) {
            if (i != null) {
                i.close();
            }
        }
    }

    /** The pods in the informer cache now. */
    public List<Pod> podList() {
        return pods == null ? List.of() : pods.getStore().list();
    }

    /** The services in the informer cache now. */
    public List<Service> serviceList() {
        return services == null ? List.of() : services.getStore().list();
    }

    @Override
    public boolean ready() {
        return services != null && services.hasSynced() && slices.hasSynced() && pods.hasSynced()
                && profiles.hasSynced() && (linkerdProfiles == null || linkerdProfiles.hasSynced());
    }

    private synchronized void changed(Object event) {
        String ns = event instanceof HasMetadata m && m.getMetadata() != null ? m.getMetadata().getNamespace() : null;
        for (Map.Entry<String, List<Consumer<Snapshot>>> w : watchers.entrySet()) {
            String target = w.getKey();
            String resolvedNs = namespaceOf(target);
            if (ns != null && !touches(target, resolvedNs, ns)) {
                continue;
            }
            Snapshot now = compute(target, resolvedNs);
            if (!now.equals(lastSent.get(target))) {
                lastSent.put(target, now);
                for (Consumer<Snapshot> l : w.getValue()) {
                    l.accept(now);
                }
            }
        }
    }

    /**
     * Whether an event in namespace {@code ns} can change what {@code target} resolves to, given the namespace it
     * resolves to {@code now} ({@link #namespaceOf}).
     */
    private boolean touches(String target, String now, String ns) {
        String before = lastNamespace.get(target);
        return now == null || before == null || ns.equals(now) || ns.equals(before);
    }

    /** {@link #get}, keeping {@code ns}, the namespace the target resolves to; called with this locked. */
    private Snapshot compute(String target, String ns) {
        computations.merge(target, 1L, Long::sum);
        Snapshot s = get(target);
        if (ns == null) {
            lastNamespace.remove(target);
        } else {
            lastNamespace.put(target, ns);
        }
        return s;
    }

    /** How many times a watched target was computed (when its watch started and on events since). */
    synchronized long computations(String target) {
        return computations.getOrDefault(target, 0L);
    }

    /**
     * The namespace a target resolves to now: a service name's own, an address's Service (by ClusterIP) or Pod (by
     * IP); null when it resolves to none.
     */
    private String namespaceOf(String authority) {
        String host = authority.substring(0, authority.lastIndexOf(':'));
        if (ipv4(host)) {
            Service svc = serviceAt(host);
            if (svc != null) {
                return svc.getMetadata().getNamespace();
            }
            Pod pod = podAt(host);
            return pod == null ? null : pod.getMetadata().getNamespace();
        }
        String[] nameNs = serviceName(host);
        return nameNs == null ? null : nameNs[1];
    }

    /** {@code <name>.<namespace>.svc.<cluster domain>} as {name, namespace}; null for any other host. */
    private String[] serviceName(String host) {
        String suffix = ".svc." + config.clusterDomain();
        if (!host.endsWith(suffix)) {
            return null;
        }
        String[] p = host.substring(0, host.length() - suffix.length()).split("\\.", -1);
        return p.length == 2 ? p : null;
    }

    /** The Service whose ClusterIP this is (none for headless services), or null. */
    private Service serviceAt(String ip) {
        List<Service> byIp = services.getIndexer().byIndex(SERVICES_BY_CLUSTER_IP, ip);
        return byIp.isEmpty() ? null : byIp.get(0);
    }

    /** The Pod with this IP, or null. */
    private Pod podAt(String ip) {
        List<Pod> byIp = pods.getIndexer().byIndex(PODS_BY_IP, ip);
        return byIp.isEmpty() ? null : byIp.get(0);
    }

    @Override
    public AutoCloseable watch(String authority, Consumer<Snapshot> listener) {
        synchronized (this) {
            if (!lastSent.containsKey(authority)) {
                lastSent.put(authority, services == null ? get(authority) : compute(authority, namespaceOf(authority)));
            }
            watchers.computeIfAbsent(authority, k -> new CopyOnWriteArrayList<>()).add(listener);
        }
        return () -> {
            synchronized (this) {
                watchers.computeIfPresent(authority, (k, l) -> {
                    l.remove(listener);
                    return l.isEmpty() ? null : l;
                });
                if (!watchers.containsKey(authority)) {
                    lastSent.remove(authority);
                    lastNamespace.remove(authority);
                    computations.remove(authority);
                }
            }
        };
    }

    @Override
    public Snapshot get(String authority) {
        if (services == null) {
            return Snapshot.UNKNOWN;
        }
        int colon = authority.lastIndexOf(':');
        String host = authority.substring(0, colon);
        int port = Integer.parseInt(authority.substring(colon + 1));
        if (ipv4(host)) {
            // a Service's ClusterIP (what transparent mode sees as the original destination), else a pod IP
            Service svc = serviceAt(host);
            if (svc != null) {
                return get(svc.getMetadata().getName() + "." + svc.getMetadata().getNamespace() + ".svc."
                        + config.clusterDomain() + ":" + port);
            }
            Pod pod = podAt(host);
            return pod == null ? Snapshot.UNKNOWN
                    : new Snapshot(true, List.of(endpoint(host, port, pod, null)), List.of());
        }
        String[] nameNs = serviceName(host);
        if (nameNs == null) {
            return Snapshot.UNKNOWN;
        }
        String name = nameNs[0];
        String ns = nameNs[1];
        Service svc = services.getIndexer().getByKey(ns + "/" + name);
        if (svc == null) {
            return Snapshot.UNKNOWN;
        }
        DestinationProfile profile = profile(ns, host);
        ServicePort sp = null;
        for (ServicePort x : svc.getSpec().getPorts() == null ? List.<ServicePort>of() : svc.getSpec().getPorts()) {
            if (x.getPort() != null && x.getPort() == port) {
                sp = x;
            }
        }
        boolean headless = "None".equals(svc.getSpec().getClusterIP());
        if (sp == null && !headless) {
            return new Snapshot(true, List.of(), List.of(), profile);
        }
        List<Endpoint> eps = new ArrayList<>();
        for (EndpointSlice slice : slices.getIndexer().byIndex(SLICES_BY_SERVICE, ns + "/" + name)) {
            Integer targetPort = slicePort(slice, sp, port);
            if (targetPort == null) {
                continue;
            }
            for (var ep : slice.getEndpoints() == null ? List.<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint>of()
                    : slice.getEndpoints()) {
                var c = ep.getConditions();
                boolean ready = c == null || c.getReady() == null || c.getReady();
                boolean terminating = c != null && Boolean.TRUE.equals(c.getTerminating());
                if (!ready || terminating) {
                    continue;
                }
                Pod pod = null;
                if (ep.getTargetRef() != null && "Pod".equals(ep.getTargetRef().getKind())) {
                    pod = pods.getIndexer().getByKey(ns + "/" + ep.getTargetRef().getName());
                }
                for (String addr : ep.getAddresses()) {
                    eps.add(endpoint(addr, targetPort, pod, ep.getZone()));
                }
            }
        }
        eps.sort(java.util.Comparator.comparing(Endpoint::address));
        return new Snapshot(true, List.copyOf(eps), List.of(), profile);
    }

    /** The slice's port number for the service port (matched by name), or the service port's numeric target. */
    private static Integer slicePort(EndpointSlice slice, ServicePort sp, int port) {
        if (slice.getPorts() == null) {
            return null;
        }
        String wanted = sp == null ? null : sp.getName();
        for (EndpointPort p : slice.getPorts()) {
            if (Objects.equals(emptyToNull(p.getName()), emptyToNull(wanted))) {
                return p.getPort();
            }
        }
        if (sp == null) {
            return port; // headless without a port entry: the port as asked
        }
        IntOrString t = sp.getTargetPort();
        return t != null && t.getIntVal() != null ? t.getIntVal() : null;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /** Digits and dots only (what {@code get} takes for an address rather than a service name). */
    private static boolean ipv4(String host) {
        if (host.isEmpty()) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if ((c < '0' || c > '9') && c != '.') {
                return false;
            }
        }
        return true;
    }

    private Endpoint endpoint(String ip, int port, Pod pod, String zone) {
        Map<String, String> labels = new HashMap<>();
        String identity = null;
        if (pod != null) {
            String ns = pod.getMetadata().getNamespace();
            String sa = pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName();
            labels.put("pod", pod.getMetadata().getName());
            labels.put("namespace", ns);
            labels.put("serviceaccount", sa);
            List<OwnerReference> owners = pod.getMetadata().getOwnerReferences();
            if (owners != null && !owners.isEmpty()) {
                labels.put("owner_kind", owners.get(0).getKind().toLowerCase(java.util.Locale.ROOT));
                labels.put("owner_name", owners.get(0).getName());
            }
            if (meshed(pod)) {
                identity = sa + "." + ns + ".serviceaccount.identity." + config.trustDomain();
            }
        }
        if (zone != null) {
            labels.put("zone", zone);
        }
        return new Endpoint(ip, port, identity, 0, 10000, labels);
    }

    public static boolean meshed(Pod pod) {
        List<Container> all = new ArrayList<>();
        if (pod.getSpec().getContainers() != null) {
            all.addAll(pod.getSpec().getContainers());
        }
        if (pod.getSpec().getInitContainers() != null) {
            all.addAll(pod.getSpec().getInitContainers());
        }
        return all.stream().anyMatch(c -> PROXY_CONTAINER.equals(c.getName()));
    }

    /** A Warning Event on the ServiceProfile, so that {@code kubectl describe} shows why it is not in force. */
    private void recordEvent(GenericKubernetesResource sp, String message) {
        try {
            var meta = sp.getMetadata();
            var event = new io.fabric8.kubernetes.api.model.EventBuilder()
                    .withNewMetadata().withGenerateName(meta.getName() + ".").withNamespace(meta.getNamespace()).endMetadata()
                    .withType("Warning").withReason("InvalidServiceProfile")
                    .withMessage("not used, the previous version stays in force: " + message)
                    .withNewInvolvedObject().withApiVersion("hypha.dev/v1alpha1").withKind("ServiceProfile")
                    .withName(meta.getName()).withNamespace(meta.getNamespace()).withUid(meta.getUid())
                    .withResourceVersion(meta.getResourceVersion()).endInvolvedObject()
                    .withNewSource().withComponent("hypha-control").endSource()
                    .withFirstTimestamp(java.time.Instant.now().toString()).withLastTimestamp(java.time.Instant.now().toString())
                    .withCount(1).build();
            clientInstance.get().v1().events().inNamespace(meta.getNamespace()).resource(event).create();
        } catch (RuntimeException e) {
            LOG.debugf("cannot record an Event for ServiceProfile %s: %s", sp.getMetadata().getName(), e.getMessage());
        }
    }

    /** Which object, in which version, a ServiceProfile was: its uid and resourceVersion. */
    private record Version(String uid, String resourceVersion) {
        static Version of(ObjectMeta meta) {
            return new Version(meta.getUid(), meta.getResourceVersion());
        }

        /** The same version of the same object as {@code other}; never for an object without a version. */
        boolean sameAs(Version other) {
            return resourceVersion != null && equals(other);
        }
    }

    /** A ServiceProfile's translation and the version of the object it came from. */
    private record Translation(Version of, DestinationProfile profile) {
    }

    /** The translated ServiceProfile named after the service's FQDN, keeping the last valid one on errors. */
    private DestinationProfile profile(String ns, String fqdn) {
        GenericKubernetesResource sp = profiles.getIndexer().getByKey(ns + "/" + fqdn);
        if (sp == null && linkerdProfiles != null) {
            sp = linkerdProfiles.getIndexer().getByKey(ns + "/" + fqdn); // the hypha.dev one wins when both exist
        }
        String key = ns + "/" + fqdn;
        if (sp == null) {
            lastGoodProfiles.remove(key);
            reportedInvalid.remove(key);
            return null;
        }
        Version now = Version.of(sp.getMetadata());
        Translation last = lastGoodProfiles.get(key);
        if (last != null && now.sameAs(last.of())) {
            return last.profile(); // unchanged since it was translated
        }
        if (now.sameAs(reportedInvalid.get(key))) {
            return last == null ? null : last.profile(); // this version was found invalid already
        }
        try {
            DestinationProfile p = ProfileTranslator.translate(fqdn, sp.getAdditionalProperties().get("spec"));
            lastGoodProfiles.put(key, new Translation(now, p));
            reportedInvalid.remove(key);
            return p;
        } catch (ProfileTranslator.InvalidProfile e) {
            if (!now.equals(reportedInvalid.put(key, now))) {
                LOG.warnf("ServiceProfile %s is not valid, keeping the previous one: %s", key, e.getMessage());
                recordEvent(sp, e.getMessage());
            }
            return last == null ? null : last.profile();
        }
    }
}
