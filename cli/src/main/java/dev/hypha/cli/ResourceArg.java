package dev.hypha.cli;

import dev.hypha.api.v1.Resource;
import java.util.Locale;
import java.util.Map;

/** {@code deploy/web}, {@code deployment}, {@code po/web-0}, {@code svc/books}, {@code ns/demo}: kubectl's spelling. */
final class ResourceArg {
    static final Map<String, String> KINDS = Map.ofEntries(
            Map.entry("ns", "namespace"), Map.entry("namespace", "namespace"), Map.entry("namespaces", "namespace"),
            Map.entry("deploy", "deployment"), Map.entry("deployment", "deployment"),
            Map.entry("deployments", "deployment"), Map.entry("sts", "statefulset"),
            Map.entry("statefulset", "statefulset"), Map.entry("statefulsets", "statefulset"),
            Map.entry("ds", "daemonset"), Map.entry("daemonset", "daemonset"), Map.entry("daemonsets", "daemonset"),
            Map.entry("po", "pod"), Map.entry("pod", "pod"), Map.entry("pods", "pod"),
            Map.entry("svc", "service"), Map.entry("service", "service"), Map.entry("services", "service"));

    private ResourceArg() {
    }

    /** Parses {@code kind[/name]}; a bad kind is a usage error that lists the right ones. */
    static Resource parse(String arg, String namespace, boolean allNamespaces) {
        String kind = arg;
        String name = "";
        int slash = arg.indexOf('/');
        if (slash >= 0) {
            kind = arg.substring(0, slash);
            name = arg.substring(slash + 1);
            if (name.isEmpty() || name.contains("/")) {
                throw new Hypha.UserException("'" + arg + "' is not a resource: expected <kind>[/<name>], e.g. deploy/web",
                        Hypha.USAGE);
            }
        }
        String k = KINDS.get(kind.toLowerCase(Locale.ROOT));
        if (k == null) {
            throw new Hypha.UserException("'" + kind + "' is not a resource kind: expected one of namespace (ns), "
                    + "deployment (deploy), statefulset (sts), daemonset (ds), pod (po), service (svc)", Hypha.USAGE);
        }
        if (allNamespaces && !name.isEmpty() && !k.equals("namespace")) {
            throw new Hypha.UserException("-A (all namespaces) goes with a kind, not a named resource ('" + arg + "')",
                    Hypha.USAGE);
        }
        return Resource.newBuilder().setKind(k).setName(name).setNamespace(allNamespaces ? "" : namespace)
                .setAllNamespaces(allNamespaces).build();
    }
}
