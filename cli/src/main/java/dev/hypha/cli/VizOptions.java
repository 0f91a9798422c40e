package dev.hypha.cli;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** What tap, routes, stat, edges and top share: where the mesh is, which namespace, the window, the format. */
final class VizOptions {
    @Mixin
    KubeOptions kube;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", defaultValue = "default",
            description = "namespace of the resource (default: ${DEFAULT-VALUE})")
    String namespace;

    @Option(names = {"-A", "--all-namespaces"}, description = "every namespace")
    boolean allNamespaces;

    @Option(names = "--local", description = "the mesh ./hypha demo runs on this machine, not a cluster "
            + "(context: $HYPHA_LOCAL_CONTEXT or ~/.hypha/local.json)")
    boolean local;
}
