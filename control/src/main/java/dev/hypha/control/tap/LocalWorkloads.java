package dev.hypha.control.tap;

import dev.hypha.control.ControlConfig;
import dev.hypha.control.destination.Endpoint;
import dev.hypha.control.destination.ServiceSource;
import dev.hypha.control.local.Registry;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Local mode's workloads: the registry file's {@code workloads}; a service is a registry service
 * {@code <name>.<ns>.svc.<cluster-domain>:<port>}, and its pods are the workloads serving one of its endpoints.
 */
final class LocalWorkloads implements WorkloadSource {
    private final Registry registry;
    private final String domain;

    LocalWorkloads(Registry registry, ControlConfig config) {
        this.registry = registry;
        this.domain = config.clusterDomain();
    }

    @Override
    public List<ProxyPod> pods(String namespace) {
        List<ProxyPod> out = new ArrayList<>();
        for (ProxyPod p : registry.workloads()) {
            if (namespace == null || namespace.equals(p.namespace())) {
                out.add(p);
            }
        }
        return out;
    }

    @Override
    public Optional<List<ProxyPod>> servicePods(String namespace, String service) {
        String prefix = service + "." + namespace + ".svc." + domain + ":";
        Set<String> addrs = new HashSet<>();
        boolean found = false;
        for (Map.Entry<String, ServiceSource.Snapshot> e : registry.services().entrySet()) {
            if (e.getKey().startsWith(prefix)) {
                found = true;
                for (Endpoint ep : e.getValue().endpoints()) {
                    addrs.add(ep.address());
                }
            }
        }
        if (!found) {
            return Optional.empty();
        }
        List<ProxyPod> pods = new ArrayList<>();
        for (ProxyPod p : pods(namespace)) {
            if (p.addresses().stream().anyMatch(addrs::contains)) {
                pods.add(p);
            }
        }
        return Optional.of(pods);
    }

    @Override
    public List<String> services(String namespace) {
        Set<String> out = new java.util.TreeSet<>();
        String suffix = ".svc." + domain;
        for (String authority : registry.services().keySet()) {
            String host = authority.substring(0, authority.lastIndexOf(':'));
            if (!host.endsWith(suffix)) {
                continue;
            }
            String[] p = host.substring(0, host.length() - suffix.length()).split("\\.");
            if (p.length == 2 && (namespace == null || namespace.equals(p[1]))) {
                out.add(p[1] + "/" + p[0]);
            }
        }
        return List.copyOf(out);
    }

    @Override
    public String clusterDomain() {
        return domain;
    }
}
