package dev.hypha.cli;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --kubeconfig} and {@code --context}, shared by every command that talks to the API server. */
final class KubeOptions {
    @Option(names = "--kubeconfig", paramLabel = "FILE",
            description = "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    Path kubeconfig;

    @Option(names = "--context", paramLabel = "NAME", description = "kubeconfig context (default: the current one)")
    String context;

    /** A client with short timeouts: a CLI must say "unreachable" quickly, not hang. */
    KubernetesClient client() {
        Config config;
        try {
            if (kubeconfig != null) {
                if (!Files.isReadable(kubeconfig)) {
                    throw new Hypha.UserException("--kubeconfig " + kubeconfig + ": no such readable file",
                            Hypha.USAGE);
                }
                config = Config.fromKubeconfig(context, Files.readString(kubeconfig), kubeconfig.toString());
            } else {
                config = Config.autoConfigure(context);
            }
        } catch (Hypha.UserException e) {
            throw e;
        } catch (Exception e) {
            throw new Hypha.UserException("cannot load the kubeconfig" + (context == null ? "" : " context '"
                    + context + "'") + ": " + e.getMessage(), Hypha.FAILED);
        }
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(10_000);
        config.setRequestRetryBackoffLimit(0);
        return new KubernetesClientBuilder().withConfig(config).build();
    }
}
