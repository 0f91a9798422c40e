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

/** What every visibility command has: the resource argument, the shared options, the output streams. */
abstract class VizCommand implements java.util.concurrent.Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    VizOptions viz;

    @picocli.CommandLine.Parameters(index = "0", paramLabel = "RESOURCE",
            description = "kind[/name]: deploy/web, deploy, sts/db, ds/agent, po/web-0, svc/books, ns/demo")
    String resource;

    dev.hypha.api.v1.Resource target() {
        return ResourceArg.parse(resource, viz.namespace, viz.allNamespaces);
    }

    /** {@code -o}: null (table), wide or json; anything else is a usage error. */
    static void checkFormat(String output) {
        if (output != null && !output.equals("wide") && !output.equals("json")) {
            throw new Hypha.UserException("-o " + output + " is not a format: expected wide or json", Hypha.USAGE);
        }
    }
}
