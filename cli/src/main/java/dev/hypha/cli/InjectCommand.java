package dev.hypha.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.hypha.inject.Capabilities;
import dev.hypha.inject.Install;
import dev.hypha.inject.Mesh;
import dev.hypha.inject.MeshValues;
import dev.hypha.inject.Workloads;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "inject", description = {
    "Add the mesh to Kubernetes manifests: hypha inject -f app.yaml | kubectl apply -f -",
    "By default the pod templates get the hypha.dev/inject=enabled label and the injector adds the proxy when the",
    "pods are created. With --manual the proxy is added right away, exactly as the injector would add it.",
    "Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs and Lists;",
    "other documents pass through unchanged. The report goes to stderr; the manifests to stdout."})
final class InjectCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    KubeOptions kube;

    @Option(names = {"-f", "--filename"}, paramLabel = "FILE", description = "a manifest file, or - for stdin "
            + "(default: stdin); may be repeated")
    List<String> files = new ArrayList<>();

    @Option(names = "--manual", description = "add the proxy now instead of labelling for the injector")
    boolean manual;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", defaultValue = "default",
            description = "namespace of documents that name none (default: ${DEFAULT-VALUE})")
    String namespace;

    @Option(names = "--mesh-config", paramLabel = "FILE", description = "--manual: the installed mesh's "
            + "hypha-config ConfigMap as YAML (default: read from the cluster)")
    Path meshConfig;

    @Option(names = "--kubernetes-version", paramLabel = "MAJOR.MINOR", description = "--manual with "
            + "--mesh-config: the cluster's version, which decides native or classic sidecars (default: current)")
    String kubernetesVersion;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "--manual: override an install value")
    List<String> set = List.of();

    /** Lets tests feed stdin. */
    static InputStream stdin = System.in;

    @Override
    public Integer call() {
        List<JsonNode> docs = new ArrayList<>();
        if (files.isEmpty()) {
            files.add("-");
        }
        for (String f : files) {
            String text = read(f);
            try {
                docs.addAll(Install.parseYaml(text));
            } catch (IOException e) {
                throw new Hypha.UserException((f.equals("-") ? "stdin" : f) + " is not YAML: "
                        + e.getMessage().lines().findFirst().orElse(""), Hypha.FAILED);
            }
        }
        Mesh mesh = null;
        Capabilities caps = Capabilities.CURRENT;
        if (manual) {
            if (meshConfig != null) {
                mesh = meshFromFile(meshConfig);
                caps = kubernetesVersion == null ? Capabilities.CURRENT : parseVersion(kubernetesVersion);
            } else {
                try (KubernetesClient c = kube.client()) {
                    mesh = meshFromCluster(c);
                    VersionInfo vi = c.getKubernetesVersion();
                    caps = kubernetesVersion != null ? parseVersion(kubernetesVersion)
                            : Capabilities.forVersion(vi.getMajor(), vi.getMinor());
                }
            }
            if (!set.isEmpty()) {
                try {
                    mesh = new Mesh(mesh.values().withInstallValues(InstallCommand.values(set, false).asMap()),
                            mesh.trustAnchorsPem());
                } catch (MeshValues.InvalidValuesException e) {
                    throw new Hypha.UserException("invalid --set: " + e.getMessage(), Hypha.USAGE);
                }
            }
        } else {
            mesh = new Mesh(MeshValues.defaults(), "");
        }
        Workloads.Output out = Workloads.inject(docs, mesh, caps, manual, namespace);
        spec.commandLine().getOut().print(Install.toYaml(out.documents()));
        var err = spec.commandLine().getErr();
        for (Workloads.Line l : out.report()) {
            err.println(l);
        }
        return out.anyInvalid() ? Hypha.FAILED : Hypha.OK;
    }

    static Capabilities parseVersion(String v) {
        String[] p = v.replaceFirst("^v", "").split("\\.");
        if (p.length < 2 || !p[0].matches("\\d+") || !p[1].matches("\\d+")) {
            throw new Hypha.UserException("--kubernetes-version '" + v + "' is not MAJOR.MINOR (e.g. 1.28)",
                    Hypha.USAGE);
        }
        return Capabilities.forVersion(p[0], p[1]);
    }

    private static String read(String f) {
        try {
            if (f.equals("-")) {
                return new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
            }
            return Files.readString(Path.of(f));
        } catch (IOException e) {
            throw new Hypha.UserException("cannot read " + f + ": " + e.getMessage(), Hypha.USAGE);
        }
    }

    static Mesh meshFromFile(Path p) {
        try {
            List<JsonNode> docs = Install.parseYaml(Files.readString(p));
            if (docs.size() != 1 || !"ConfigMap".equals(docs.get(0).path("kind").asText())) {
                throw new Hypha.UserException("--mesh-config " + p + " must hold one ConfigMap (kubectl get "
                        + "configmap -n hypha-system hypha-config -o yaml)", Hypha.USAGE);
            }
            Map<String, String> data = new java.util.TreeMap<>();
            docs.get(0).path("data").fields().forEachRemaining(e -> data.put(e.getKey(), e.getValue().asText()));
            return Mesh.fromConfigMapData(data);
        } catch (IOException e) {
            throw new Hypha.UserException("--mesh-config " + p + ": " + e.getMessage(), Hypha.USAGE);
        } catch (MeshValues.InvalidValuesException e) {
            throw new Hypha.UserException("--mesh-config " + p + ": " + e.getMessage(), Hypha.USAGE);
        }
    }

    static Mesh meshFromCluster(KubernetesClient c) {
        ConfigMap cm;
        try {
            cm = c.configMaps().inNamespace(Mesh.NAMESPACE).withName(Mesh.CONFIG_MAP).get();
        } catch (Exception e) {
            throw new Hypha.UserException("cannot read " + Mesh.NAMESPACE + "/" + Mesh.CONFIG_MAP + " from the "
                    + "cluster (" + e.getMessage() + "); is Hypha installed? Or pass --mesh-config FILE", Hypha.FAILED);
        }
        if (cm == null) {
            throw new Hypha.UserException("the cluster has no " + Mesh.NAMESPACE + "/" + Mesh.CONFIG_MAP
                    + ": install Hypha first (hypha install | kubectl apply -f -), or pass --mesh-config FILE",
                    Hypha.FAILED);
        }
        try {
            return Mesh.fromConfigMapData(cm.getData());
        } catch (MeshValues.InvalidValuesException e) {
            throw new Hypha.UserException(Mesh.CONFIG_MAP + " in the cluster is invalid: " + e.getMessage(),
                    Hypha.FAILED);
        }
    }
}
