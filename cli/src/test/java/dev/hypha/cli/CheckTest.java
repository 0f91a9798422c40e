package dev.hypha.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code hypha check} against the fabric8 mock API server with a rendered install applied. */
class CheckTest {

    /** Applies {@code hypha install} (with the given extra flags) and makes the cluster look healthy. */
    static void install(MockCluster k, String... flags) throws Exception {
        String[] args = new String[flags.length + 1];
        args[0] = "install";
        System.arraycopy(flags, 0, args, 1, flags.length);
        Golden.Run r = Golden.hypha(args);
        assertEquals(0, r.rc(), r.err());
        for (HasMetadata o : InstallTest.typed(r.out())) {
            k.client.resource(o).create();
        }
        for (String d : List.of("hypha-control", "hypha-injector")) {
            k.client.apps().deployments().inNamespace("hypha-system").withName(d).editStatus(x -> {
                x.setStatus(new io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder()
                        .withReplicas(x.getSpec().getReplicas()).withReadyReplicas(x.getSpec().getReplicas()).build());
                return x;
            });
        }
        // what the injector does when it starts: its serving certificate, the caBundle, a ready endpoint
        Instant now = Instant.now();
        Pki.Issued ca = Pki.root("hypha-injector-ca.hypha-system", now, Duration.ofDays(3650));
        Pki.Issued leaf = Pki.serving(List.of("hypha-injector.hypha-system.svc"), ca, now, Duration.ofDays(365));
        k.client.secrets().inNamespace("hypha-system").resource(new SecretBuilder().withNewMetadata()
                .withName("hypha-injector-tls").withNamespace("hypha-system").endMetadata()
                .withType("kubernetes.io/tls").withData(Map.of("ca.crt", b64(ca.certPem()), "tls.crt",
                        b64(leaf.certPem()), "tls.key", b64(leaf.keyPem()))).build()).create();
        k.client.admissionRegistration().v1().mutatingWebhookConfigurations().withName("hypha-injector").edit(m -> {
            m.getWebhooks().forEach(w -> w.getClientConfig().setCaBundle(b64(ca.certPem())));
            return m;
        });
        k.client.discovery().v1().endpointSlices().inNamespace("hypha-system").resource(new EndpointSliceBuilder()
                .withNewMetadata().withName("hypha-injector-x1").withNamespace("hypha-system")
                .addToLabels("kubernetes.io/service-name", "hypha-injector").endMetadata().withAddressType("IPv4")
                .addNewEndpoint().withAddresses("10.0.0.7").withNewConditions().withReady(true).endConditions()
                .endEndpoint().build()).create();
    }

    static Golden.Run check(MockCluster k, String... flags) {
        String[] args = new String[flags.length + 3];
        args[0] = "check";
        args[1] = "--kubeconfig";
        args[2] = k.kubeconfig.toString();
        System.arraycopy(flags, 0, args, 3, flags.length);
        return Golden.hypha(args);
    }

    @Test
    void aHealthyInstallPasses() throws Exception {
        try (MockCluster k = new MockCluster()) {
            install(k);
            Golden.Run r = check(k);
            assertEquals(0, r.rc(), r.out() + r.err());
            assertFalse(r.out().contains("×"), r.out());
            assertFalse(r.out().contains("‼"), r.out());
            for (String category : List.of("kubernetes-api", "hypha-crds", "hypha-existence", "hypha-identity",
                    "hypha-webhook")) {
                assertTrue(r.out().contains("\n" + category + "\n"), category + " in\n" + r.out());
            }
            assertTrue(r.out().contains("√ the issuer is signed by a trust anchor"), r.out());
            assertTrue(r.out().contains("√ the webhook's serving certificate is valid for hypha-injector.hypha-system.svc"),
                    r.out());
            assertTrue(r.out().endsWith("Status check results are √\n"), r.out());
        }
    }

    @Test
    void aMissingCrdFailsItsCheck() throws Exception {
        try (MockCluster k = new MockCluster()) {
            install(k);
            k.client.apiextensions().v1().customResourceDefinitions().withName("serviceprofiles.hypha.dev").delete();
            Golden.Run r = check(k);
            assertEquals(1, r.rc(), r.out());
            assertTrue(r.out().contains("× the ServiceProfile CRD exists\n    no customresourcedefinition "
                    + "serviceprofiles.hypha.dev\n    see: hypha install --crds | kubectl apply -f -"), r.out());
        }
    }

    @Test
    void aControlPlaneThatIsNotReadyFails() throws Exception {
        try (MockCluster k = new MockCluster()) {
            install(k);
            k.client.apps().deployments().inNamespace("hypha-system").withName("hypha-control").editStatus(x -> {
                x.getStatus().setReadyReplicas(0);
                return x;
            });
            Golden.Run r = check(k);
            assertEquals(1, r.rc(), r.out());
            assertTrue(r.out().contains("× the control plane is ready\n    0 of 1 hypha-control replicas ready"),
                    r.out());
            assertTrue(r.out().contains("√ the injector is ready"), r.out());
        }
    }

    @Test
    void anIssuerExpiringIn30DaysIsAWarning() throws Exception {
        Instant now = Instant.now();
        Pki.Issued root = Pki.root("root.hypha.cluster.local", now, Duration.ofDays(3650));
        Pki.Issued issuer = Pki.intermediate("identity.hypha.cluster.local", root, now, Duration.ofDays(30));
        Path dir = Files.createTempDirectory("issuer");
        Path a = Files.writeString(dir.resolve("ca.crt"), root.certPem());
        Path c = Files.writeString(dir.resolve("issuer.crt"), issuer.certPem());
        Path key = Files.writeString(dir.resolve("issuer.key"), issuer.keyPem());
        try (MockCluster k = new MockCluster()) {
            install(k, "--identity-trust-anchors-file", a.toString(), "--identity-issuer-certificate-file",
                    c.toString(), "--identity-issuer-key-file", key.toString());
            Golden.Run r = check(k);
            assertEquals(0, r.rc(), "a warning does not fail the check\n" + r.out());
            assertTrue(r.out().contains("‼ the issuer certificate is valid for at least 60 days\n    expires on "),
                    r.out());
            assertTrue(r.out().contains("(in 29 days)") || r.out().contains("(in 30 days)"), r.out());
            assertTrue(r.out().contains("√ the issuer certificate is valid now"), r.out());
            assertTrue(r.out().endsWith("Status check results are √ (with warnings ‼)\n"), r.out());
        }
    }

    @Test
    void anUnreachableApiServerIsSaidQuickly() throws Exception {
        int port = dev.hypha.testing.FreePorts.outsideEphemeralRange();
        Path kc = MockCluster.kubeconfig("http://127.0.0.1:" + port);
        Golden.Run r = Golden.hypha("check", "--kubeconfig", kc.toString());
        assertEquals(1, r.rc());
        assertTrue(r.out().contains("× can query the Kubernetes API"), r.out());
        assertTrue(r.out().contains("see: is the cluster up"), r.out());
        r = Golden.hypha("check", "--kubeconfig", "/nonexistent/kubeconfig");
        assertEquals(1, r.rc());
        assertTrue(r.out().contains("× can initialize the client\n    --kubeconfig /nonexistent/kubeconfig: no such "
                + "readable file"), r.out());
        Files.delete(kc);
    }

    @Test
    void proxiesThatAreNotReadyFailTheDataPlaneCheck() throws Exception {
        try (MockCluster k = new MockCluster()) {
            install(k);
            for (String name : List.of("web-1", "web-2")) {
                k.client.pods().inNamespace("shop").resource(new PodBuilder().withNewMetadata().withName(name)
                        .withNamespace("shop").addToLabels("hypha.dev/control-plane-ns", "hypha-system")
                        .addToAnnotations("hypha.dev/proxy-version", "0.1.0").endMetadata()
                        .withNewSpec().addNewContainer().withName("app").withImage("web").endContainer().endSpec()
                        .withNewStatus().addNewInitContainerStatus().withName("hypha-proxy")
                        .withReady(name.equals("web-1")).endInitContainerStatus().endStatus().build()).create();
            }
            Golden.Run r = check(k, "--proxy");
            assertEquals(1, r.rc(), r.out());
            assertTrue(r.out().contains("× the data plane's proxies are ready and certified\n    not ready (a proxy is "
                    + "ready only once it holds a certificate): [shop/web-2]"), r.out());
            assertTrue(r.out().contains("√ the data plane's proxies run version 0.1.0"), r.out());
        }
    }

    @Test
    void preInstallChecksAccessAndAnEmptyCluster() throws Exception {
        try (MockCluster k = new MockCluster()) {
            // what a real API server answers to a cluster administrator's SelfSubjectAccessReviews
            k.server.expect().post().withPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                    .andReturn(201, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
                            + "\"spec\":{},\"status\":{\"allowed\":true}}").always();
            Golden.Run r = check(k, "--pre");
            assertEquals(0, r.rc(), r.out());
            assertTrue(r.out().contains("√ the hypha-system namespace does not exist yet"), r.out());
            assertTrue(r.out().contains("√ can create customresourcedefinitions"), r.out());
            install(k);
            r = check(k, "--pre");
            assertEquals(1, r.rc(), r.out());
            assertTrue(r.out().contains("× the hypha-system namespace does not exist yet\n    hypha-system exists"),
                    r.out());
        }
        try (MockCluster k = new MockCluster()) {
            k.server.expect().post().withPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                    .andReturn(201, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
                            + "\"spec\":{},\"status\":{\"allowed\":false}}").always();
            Golden.Run r = check(k, "--pre");
            assertEquals(1, r.rc(), r.out());
            assertTrue(r.out().contains("× can create clusterroles\n    the API server did not allow it\n    see: install "
                    + "as a cluster administrator"), r.out());
        }
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII));
    }
}
