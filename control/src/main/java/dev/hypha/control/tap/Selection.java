package dev.hypha.control.tap;

import dev.hypha.api.v1.Resource;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Resolves a {@link Resource} into groups of pods: one group per resource instance (deployment web, pod web-0,
 * service books, namespace demo), each with all its pods, meshed or not. A named resource with no pods is
 * NOT_FOUND; a kind that is not supported is INVALID_ARGUMENT.
 */
public final class Selection {
    public static final Set<String> KINDS = Set.of("namespace", "deployment", "statefulset", "daemonset", "pod",
            "service");

    private Selection() {
    }

    /** One resource instance and its pods. */
    public record Group(Resource resource, List<ProxyPod> pods) {
    }

    public static List<Group> resolve(WorkloadSource src, Resource r) {
        String kind = r.getKind().toLowerCase(Locale.ROOT);
        if (!KINDS.contains(kind)) {
            throw Status.INVALID_ARGUMENT.withDescription("resource kind '" + r.getKind() + "' is not supported: "
                    + "expected one of namespace, deployment, statefulset, daemonset, pod, service").asRuntimeException();
        }
        String ns = r.getAllNamespaces() ? null : r.getNamespace().isEmpty() ? "default" : r.getNamespace();
        if (kind.equals("namespace") && !r.getName().isEmpty()) {
            ns = r.getName();
        }
        Map<String, List<ProxyPod>> groups = new LinkedHashMap<>();
        Map<String, Resource> names = new LinkedHashMap<>();
        if (kind.equals("service")) {
            List<String> svcs = r.getName().isEmpty() ? src.services(ns)
                    : List.of((ns == null ? "default" : ns) + "/" + r.getName());
            for (String key : svcs) {
                String sns = key.substring(0, key.indexOf('/'));
                String name = key.substring(key.indexOf('/') + 1);
                var members = src.servicePods(sns, name);
                if (members.isEmpty()) {
                    continue;
                }
                groups.put(key, members.get());
                names.put(key, Resource.newBuilder().setNamespace(sns).setKind(kind).setName(name).build());
            }
        } else {
            for (ProxyPod p : src.pods(ns)) {
                String name = switch (kind) {
                    case "namespace" -> p.namespace();
                    case "pod" -> p.name();
                    default -> kind.equals(p.ownerKind()) ? p.ownerName() : null;
                };
                if (name == null || (!r.getName().isEmpty() && !r.getName().equals(name))) {
                    continue;
                }
                String key = p.namespace() + "/" + name;
                groups.computeIfAbsent(key, k -> new ArrayList<>()).add(p);
                names.putIfAbsent(key, Resource.newBuilder().setNamespace(p.namespace()).setKind(kind).setName(name)
                        .build());
            }
        }
        if (!r.getName().isEmpty() && groups.isEmpty()) {
            throw Status.NOT_FOUND.withDescription(kind + " " + r.getName() + " not found in namespace "
                    + (ns == null ? "(any)" : ns) + (kind.equals("service") ? "" : " (no pods)")).asRuntimeException();
        }
        List<Group> out = new ArrayList<>();
        for (var e : groups.entrySet()) {
            out.add(new Group(names.get(e.getKey()), e.getValue()));
        }
        return out;
    }

    /**
     * What {@code --to} means on the outbound side: a service becomes its authority (host); other kinds their pods'
     * addresses.
     */
    public record To(List<String> authorities, List<String> addresses) {
        public static final To ANY = new To(List.of(), List.of());
    }

    public static To to(WorkloadSource src, Resource to, String defaultNamespace) {
        if (to.getKind().isEmpty()) {
            return To.ANY;
        }
        Resource r = to.getNamespace().isEmpty() ? to.toBuilder().setNamespace(defaultNamespace).build() : to;
        if (r.getKind().equalsIgnoreCase("service")) {
            if (r.getName().isEmpty()) {
                throw Status.INVALID_ARGUMENT.withDescription("--to needs a named resource, e.g. svc/books")
                        .asRuntimeException();
            }
            if (src.servicePods(r.getNamespace(), r.getName()).isEmpty()) {
                throw Status.NOT_FOUND.withDescription("service " + r.getName() + " not found in namespace "
                        + r.getNamespace()).asRuntimeException();
            }
            return new To(List.of(r.getName() + "." + r.getNamespace() + ".svc." + src.clusterDomain()), List.of());
        }
        List<String> addrs = new ArrayList<>();
        for (Group g : resolve(src, r)) {
            for (ProxyPod p : g.pods()) {
                addrs.addAll(p.addresses());
            }
        }
        return new To(List.of(), addrs);
    }
}
