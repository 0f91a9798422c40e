package dev.hypha.control.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.hypha.control.ControlConfig;
import dev.hypha.control.destination.Endpoint;
import dev.hypha.control.destination.ServiceSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Local mode's service source: a JSON registry file, re-read when it changes. A file that does not parse keeps
 * the last good registry in force and logs what is wrong. Format (see control/README.md):
 * <pre>
 * {"services": {"web.demo.svc.cluster.local:8080": {
 *     "endpoints": [{"address": "127.0.0.1:18080", "identity": "web.demo.serviceaccount.identity.cluster.local",
 *                    "proxyPort": 14143, "weight": 10000, "labels": {"pod": "web-0"}}],
 *     "opaquePorts": []}}}
 * </pre>
 */
@ApplicationScoped
@jakarta.enterprise.inject.Typed(Registry.class)
public class Registry implements ServiceSource {
    private static final Logger LOG = Logger.getLogger(Registry.class);

    private final ControlConfig config;
    private final ObjectMapper json = new ObjectMapper();
    private volatile Map<String, Snapshot> services = Map.of();
    private volatile List<dev.hypha.control.tap.ProxyPod> workloads = List.of();
    private final Map<String, List<Consumer<Snapshot>>> watchers = new ConcurrentHashMap<>();
    private ScheduledExecutorService poller;
    private String fingerprint = "";
    private volatile String lastError;

    public Registry(ControlConfig config) {
        this.config = config;
    }

    void start(@Observes StartupEvent e) {
        if (config.mode() != ControlConfig.Mode.local) {
            return;
        }
        if (config.registryFile().isEmpty()) {
            LOG.info("no registry file (hypha.control.registry-file): every destination is unknown");
            return;
        }
        reload();
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hypha-registry");
            t.setDaemon(true);
            return t;
        });
        long ms = config.registryReloadInterval().toMillis();
        poller.scheduleWithFixedDelay(this::reload, ms, ms, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent e) {
        if (poller != null) {
            poller.shutdownNow();
        }
    }

    synchronized void reload() {
        Path file = config.registryFile().orElseThrow();
        String fp;
        try {
            fp = Files.getLastModifiedTime(file).toMillis() + "/" + Files.size(file);
        } catch (Exception ex) {
            fp = "missing";
        }
        if (fp.equals(fingerprint)) {
            return;
        }
        fingerprint = fp;
        Map<String, Snapshot> next;
        List<dev.hypha.control.tap.ProxyPod> nextWorkloads;
        try {
            JsonNode root = json.readTree(Files.readString(file));
            next = parse(root);
            nextWorkloads = parseWorkloads(root);
        } catch (Exception ex) {
            String msg = "registry " + file + " not used, keeping the previous one: " + ex.getMessage();
            if (!msg.equals(lastError)) {
                LOG.warn(msg);
                lastError = msg;
            }
            return;
        }
        lastError = null;
        Map<String, Snapshot> prev = services;
        services = next;
        workloads = nextWorkloads;
        LOG.infof("registry %s: %d service port(s)", file, next.size());
        for (Map.Entry<String, List<Consumer<Snapshot>>> w : watchers.entrySet()) {
            Snapshot before = lookup(prev, w.getKey());
            Snapshot after = lookup(next, w.getKey());
            if (!before.equals(after)) {
                for (Consumer<Snapshot> l : w.getValue()) {
                    l.accept(after);
                }
            }
        }
    }

    static Map<String, Snapshot> parse(JsonNode root) {
        JsonNode svcs = root.path("services");
        if (!svcs.isObject()) {
            throw new IllegalArgumentException("expected an object \"services\" mapping \"host:port\" to a service");
        }
        Map<String, Snapshot> out = new HashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = svcs.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String authority = e.getKey();
            if (!authority.matches("[A-Za-z0-9.-]+:[0-9]{1,5}")) {
                throw new IllegalArgumentException("service key '" + authority + "' is not host:port");
            }
            List<Endpoint> eps = new ArrayList<>();
            for (JsonNode ep : e.getValue().path("endpoints")) {
                String addr = ep.path("address").asText("");
                int colon = addr.lastIndexOf(':');
                if (colon <= 0) {
                    throw new IllegalArgumentException(authority + ": endpoint address '" + addr + "' is not ip:port");
                }
                int port = Integer.parseInt(addr.substring(colon + 1));
                Map<String, String> labels = new HashMap<>();
                ep.path("labels").fields().forEachRemaining(l -> labels.put(l.getKey(), l.getValue().asText()));
                String identity = ep.hasNonNull("identity") ? ep.get("identity").asText() : null;
                eps.add(new Endpoint(addr.substring(0, colon), port, identity, ep.path("proxyPort").asInt(0),
                        ep.path("weight").asInt(10000), labels));
            }
            List<Integer> opaque = new ArrayList<>();
            for (JsonNode p : e.getValue().path("opaquePorts")) {
                opaque.add(p.asInt());
            }
            dev.hypha.api.v1.DestinationProfile profile = null;
            if (e.getValue().has("profile")) {
                // the same spec as a ServiceProfile resource's .spec
                String host = authority.substring(0, authority.lastIndexOf(':'));
                try {
                    profile = dev.hypha.control.k8s.ProfileTranslator.translate(host,
                            new ObjectMapper().convertValue(e.getValue().get("profile"), Map.class));
                } catch (dev.hypha.control.k8s.ProfileTranslator.InvalidProfile ex) {
                    throw new IllegalArgumentException(authority + ": profile: " + ex.getMessage());
                }
            }
            out.put(authority, new Snapshot(true, List.copyOf(eps), List.copyOf(opaque), profile));
        }
        return out;
    }

    /**
     * The registry's workloads (for tap and stats): each a pod of a namespace and owner, with its proxy's identity
     * and tap address and the addresses it serves on.
     */
    static List<dev.hypha.control.tap.ProxyPod> parseWorkloads(JsonNode root) {
        List<dev.hypha.control.tap.ProxyPod> out = new ArrayList<>();
        int i = 0;
        for (JsonNode w : root.path("workloads")) {
            String where = "workloads[" + i++ + "]";
            String ns = w.path("namespace").asText("");
            String kind = w.path("kind").asText("deployment");
            String name = w.path("name").asText("");
            String pod = w.path("pod").asText(name);
            if (ns.isEmpty() || name.isEmpty()) {
                throw new IllegalArgumentException(where + ": \"namespace\" and \"name\" are required");
            }
            if (!dev.hypha.control.tap.Selection.KINDS.contains(kind) || kind.equals("namespace")
                    || kind.equals("service") || kind.equals("pod")) {
                throw new IllegalArgumentException(where + ": kind '" + kind + "' is not valid: expected deployment, "
                        + "statefulset or daemonset");
            }
            List<String> addrs = new ArrayList<>();
            for (JsonNode a : w.path("addresses")) {
                addrs.add(a.asText());
            }
            String identity = w.hasNonNull("identity") ? w.get("identity").asText() : null;
            String tap = w.hasNonNull("tapAddress") ? w.get("tapAddress").asText() : null;
            out.add(new dev.hypha.control.tap.ProxyPod(ns, pod, kind, name, identity, tap, addrs, Map.of()));
        }
        return List.copyOf(out);
    }

    /** The workloads of the registry now. */
    public List<dev.hypha.control.tap.ProxyPod> workloads() {
        return workloads;
    }

    /** The services of the registry now, by authority. */
    public Map<String, Snapshot> services() {
        return services;
    }

    private static Snapshot lookup(Map<String, Snapshot> services, String authority) {
        Snapshot s = services.get(authority);
        if (s != null) {
            return s;
        }
        // An IP:port target: the endpoint with that address, if any service has it.
        for (Snapshot sn : services.values()) {
            for (Endpoint ep : sn.endpoints()) {
                if (ep.address().equals(authority)) {
                    return new Snapshot(true, List.of(ep), sn.opaquePorts());
                }
            }
        }
        return Snapshot.UNKNOWN;
    }

    @Override
    public Snapshot get(String authority) {
        return lookup(services, authority);
    }

    @Override
    public AutoCloseable watch(String authority, Consumer<Snapshot> listener) {
        watchers.computeIfAbsent(authority, k -> new CopyOnWriteArrayList<>()).add(listener);
        return () -> watchers.computeIfPresent(authority, (k, l) -> {
            l.remove(listener);
            return l.isEmpty() ? null : l;
        });
    }

    /** For tests: whether a parse problem is being reported. */
    public String lastError() {
        return lastError;
    }
}
