package dev.hypha.injector;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.hypha.inject.Install;
import dev.hypha.inject.MeshValues;
import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The cluster as {@code hypha install} leaves it, in the mock API server before the injector starts: the rendered
 * ConfigMap (from the golden mesh-config), the MutatingWebhookConfiguration without caBundle, the namespaces of the
 * golden cases, and a serving-certificate Secret that expires in 10 days (the injector must renew it).
 */
public final class Cluster implements Consumer<KubernetesServer> {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path GOLDEN = locate();
    static volatile String oldCaPem;

    static Path locate() {
        for (Path p : List.of(Path.of("../injection/src/test/golden"), Path.of("injection/src/test/golden"))) {
            if (Files.isDirectory(p)) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("injection/src/test/golden not found");
    }

    static List<String> cases() throws Exception {
        try (Stream<Path> s = Files.list(GOLDEN)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".input.yaml"))
                    .map(n -> n.substring(0, n.length() - ".input.yaml".length())).sorted().toList();
        }
    }

    static List<JsonNode> yaml(String file) throws Exception {
        return Install.parseYaml(Files.readString(GOLDEN.resolve(file)));
    }

    @Override
    public void accept(KubernetesServer server) {
        KubernetesClient c = server.getClient();
        server.getKubernetesMockServer().setVersionInfo(new io.fabric8.kubernetes.client.VersionInfo.Builder()
                .withMajor("1").withMinor("33").withGitVersion("v1.33.1").build());
        try {
            ConfigMap cm = JSON.convertValue(yaml("mesh-config.yaml").get(0), ConfigMap.class);
            c.configMaps().inNamespace("hypha-system").resource(cm).create();
            for (JsonNode d : Install.render(MeshValues.defaults(), Install.Identity.generate("cluster.local",
                    Instant.now()), false, false)) {
                if ("MutatingWebhookConfiguration".equals(d.path("kind").asText())) {
                    c.admissionRegistration().v1().mutatingWebhookConfigurations()
                            .resource(JSON.convertValue(d, MutatingWebhookConfiguration.class)).create();
                }
            }
            for (String ns : List.of("shop", "monitoring")) {
                c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns)
                        .addToLabels("hypha.dev/inject", "enabled").endMetadata().build()).create();
            }
            c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("plain").endMetadata().build())
                    .create();
            c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("kube-system").endMetadata()
                    .build()).create();
            for (JsonNode d : yaml("namespace-overrides.input.yaml")) {
                if ("Namespace".equals(d.path("kind").asText())) {
                    c.namespaces().resource(JSON.convertValue(d, Namespace.class)).create();
                }
            }
            Instant now = Instant.now();
            Pki.Issued ca = Pki.root("hypha-injector-ca.hypha-system", now, Duration.ofDays(3650));
            Pki.Issued leaf = Pki.serving(List.of("hypha-injector.hypha-system.svc"), ca, now, Duration.ofDays(10));
            oldCaPem = ca.certPem();
            c.secrets().inNamespace("hypha-system").resource(new SecretBuilder().withNewMetadata()
                    .withName(ServingCertificate.SECRET).withNamespace("hypha-system").endMetadata()
                    .withType("kubernetes.io/tls").withData(Map.of("ca.crt", b64(ca.certPem()), "ca.key",
                            b64(ca.keyPem()), "tls.crt", b64(leaf.certPem()), "tls.key", b64(leaf.keyPem())))
                    .build()).create();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII));
    }
}
