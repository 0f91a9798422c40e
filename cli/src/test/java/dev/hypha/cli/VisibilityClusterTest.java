package dev.hypha.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Against a cluster (the fabric8 mock API server), the visibility commands say precisely what is missing before
 * they try the control plane: a user without a bearer token, no installation, no ready control plane.
 */
class VisibilityClusterTest {
    static VisibilityCommandsTest.Run hypha(String... args) {
        return VisibilityCommandsTest.hypha(args);
    }

    @Test
    void whatIsMissingIsSaid() throws Exception {
        try (MockCluster c = new MockCluster()) {
            String kc = c.kubeconfig.toString();
            var notInstalled = hypha("stat", "deploy", "-n", "shop", "--kubeconfig", kc);
            assertEquals(1, notInstalled.code(), notInstalled.err());
            assertTrue(notInstalled.err().contains("Hypha is not installed: no ConfigMap hypha-config in hypha-system"),
                    notInstalled.err());

            String anchors = Pki.pem("CERTIFICATE", Pki.root("root", Instant.now(), Duration.ofDays(1)).cert()
                    .getEncoded());
            c.client.configMaps().inNamespace("hypha-system").resource(new ConfigMapBuilder().withNewMetadata()
                    .withName("hypha-config").withNamespace("hypha-system").endMetadata()
                    .addToData("trust-anchors.pem", anchors).build()).create();
            c.client.pods().inNamespace("hypha-system").resource(new PodBuilder().withNewMetadata()
                    .withName("hypha-control-abc").withNamespace("hypha-system")
                    .addToLabels("app.kubernetes.io/name", "hypha-control").endMetadata().withNewStatus()
                    .addNewCondition().withType("Ready").withStatus("False").endCondition().endStatus().build()).create();
            var notReady = hypha("tap", "deploy/web", "-n", "shop", "--kubeconfig", kc);
            assertEquals(1, notReady.code(), notReady.err());
            assertTrue(notReady.err().contains("no ready hypha-control pod in hypha-system (see hypha check)"),
                    notReady.err());

            Path noToken = Files.createTempFile("kubeconfig", ".yaml");
            Files.writeString(noToken, Files.readString(c.kubeconfig).replace("token: not-a-real-token",
                    "username: cert-user"));
            try {
                var tokenless = hypha("routes", "deploy/web", "--kubeconfig", noToken.toString());
                assertEquals(1, tokenless.code(), tokenless.err());
                assertTrue(tokenless.err().contains("your kubeconfig user has no bearer token"), tokenless.err());
            } finally {
                Files.deleteIfExists(noToken);
            }
        }
    }
}
