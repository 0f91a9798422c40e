package dev.hypha.cli;

import dev.hypha.inject.MeshValues;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "version", description = "Print the client's version and, unless --client, the control plane's.")
final class VersionCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    KubeOptions kube;

    @Option(names = "--client", description = "only the client's version")
    boolean clientOnly;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        out.println("Client version: " + MeshValues.defaults().get("version"));
        if (clientOnly) {
            return Hypha.OK;
        }
        try (KubernetesClient c = kube.client()) {
            Deployment d = c.apps().deployments().inNamespace("hypha-system").withName("hypha-control").get();
            String v = d == null ? "unavailable (no hypha-control Deployment in hypha-system)"
                    : d.getMetadata().getLabels().getOrDefault("app.kubernetes.io/version", "unknown");
            out.println("Server version: " + v);
            return d == null ? Hypha.FAILED : Hypha.OK;
        } catch (Hypha.UserException e) {
            throw e;
        } catch (Exception e) {
            out.println("Server version: unavailable (" + e.getMessage() + ")");
            return Hypha.FAILED;
        }
    }
}
