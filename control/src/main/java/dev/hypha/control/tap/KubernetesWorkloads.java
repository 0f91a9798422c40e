package dev.hypha.control.tap;

import dev.hypha.control.ControlConfig;
import dev.hypha.control.k8s.KubernetesSource;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Kubernetes mode's workloads, from the informer caches the destination service already keeps: a pod's owner is
 * its controller (a ReplicaSet named {@code <deployment>-<pod-template-hash>} counts as that Deployment); a meshed
 * pod (a container named hypha-proxy) is tapped at {@code <pod IP>:<proxy-tap-port>} (4190); a service's pods are those its selector
 * matches.
 */
final class KubernetesWorkloads implements WorkloadSource {
    private final KubernetesSource source;
    private final ControlConfig config;

    KubernetesWorkloads(KubernetesSource source, ControlConfig config) {
        this.source = source;
        this.config = config;
    }

    @Override
    public List<ProxyPod> pods(String namespace) {
        List<ProxyPod> out = new ArrayList<>();
        for (Pod p : source.podList()) {
            String ns = p.getMetadata().getNamespace();
            if (namespace != null && !namespace.equals(ns)) {
                continue;
            }
            if (p.getStatus() == null || !"Running".equals(p.getStatus().getPhase())) {
                continue;
            }
            out.add(of(p));
        }
        return out;
    }

    ProxyPod of(Pod p) {
        String ns = p.getMetadata().getNamespace();
        String kind = null;
        String owner = null;
        List<OwnerReference> refs = p.getMetadata().getOwnerReferences();
        if (refs != null) {
            for (OwnerReference r : refs) {
                if (refs.size() == 1 || Boolean.TRUE.equals(r.getController())) {
                    kind = r.getKind().toLowerCase(Locale.ROOT);
                    owner = r.getName();
                }
            }
        }
        Map<String, String> labels = p.getMetadata().getLabels() == null ? Map.of() : p.getMetadata().getLabels();
        String hash = labels.get("pod-template-hash");
        if ("replicaset".equals(kind) && hash != null && owner.endsWith("-" + hash)) {
            kind = "deployment";
            owner = owner.substring(0, owner.length() - hash.length() - 1);
        }
        String ip = p.getStatus() == null ? null : p.getStatus().getPodIP();
        String sa = p.getSpec().getServiceAccountName() == null ? "default" : p.getSpec().getServiceAccountName();
        boolean meshed = KubernetesSource.meshed(p) && ip != null;
        return new ProxyPod(ns, p.getMetadata().getName(), kind, owner,
                meshed ? sa + "." + ns + ".serviceaccount.identity." + config.trustDomain() : null,
                meshed ? (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + config.proxyTapPort() : null,
                ip == null ? List.of() : List.of(ip), labels);
    }

    @Override
    public Optional<List<ProxyPod>> servicePods(String namespace, String service) {
        for (Service s : source.serviceList()) {
            if (s.getMetadata().getNamespace().equals(namespace) && s.getMetadata().getName().equals(service)) {
                Map<String, String> sel = s.getSpec() == null ? null : s.getSpec().getSelector();
                List<ProxyPod> out = new ArrayList<>();
                if (sel != null && !sel.isEmpty()) {
                    for (ProxyPod p : pods(namespace)) {
                        if (p.labels().entrySet().containsAll(sel.entrySet())) {
                            out.add(p);
                        }
                    }
                }
                return Optional.of(out);
            }
        }
        return Optional.empty();
    }

    @Override
    public List<String> services(String namespace) {
        List<String> out = new ArrayList<>();
        for (Service s : source.serviceList()) {
            if (namespace == null || namespace.equals(s.getMetadata().getNamespace())) {
                out.add(s.getMetadata().getNamespace() + "/" + s.getMetadata().getName());
            }
        }
        out.sort(null);
        return out;
    }

    @Override
    public String clusterDomain() {
        return config.clusterDomain();
    }
}
