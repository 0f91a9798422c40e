package dev.hypha.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.hypha.inject.Install;
import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@code hypha install} and {@code uninstall}: what they render, and that a cluster accepts it. */
class InstallTest {
    static final KubernetesSerialization SERIAL = new KubernetesSerialization();

    static List<HasMetadata> typed(String yaml) throws Exception {
        List<HasMetadata> out = new ArrayList<>();
        for (JsonNode d : Install.parseYaml(yaml)) {
            HasMetadata o = SERIAL.unmarshal(d.toString(), HasMetadata.class);
            assertFalse(o instanceof GenericKubernetesResource, "no fabric8 model for " + d.path("kind"));
            out.add(o);
        }
        return out;
    }

    @Test
    void everyDocumentIsAKubernetesObjectAndTheClusterAcceptsThem() throws Exception {
        Golden.Run r = Golden.hypha("install");
        assertEquals(0, r.rc(), r.err());
        List<HasMetadata> objects = typed(r.out());
        Set<String> kinds = new HashSet<>();
        objects.forEach(o -> kinds.add(o.getKind()));
        assertEquals(Set.of("CustomResourceDefinition", "Namespace", "ConfigMap", "Secret", "ServiceAccount",
                "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service",
                "PodDisruptionBudget", "MutatingWebhookConfiguration"), kinds);
        assertEquals("CustomResourceDefinition", objects.get(0).getKind(), "CRDs come first");
        assertEquals("Namespace", objects.get(1).getKind(), "then the namespace");
        try (MockCluster k = new MockCluster()) {
            for (HasMetadata o : objects) {
                k.client.resource(o).create();
            }
            for (HasMetadata o : objects) {
                assertNotNull(k.client.resource(o).get(), o.getKind() + " " + o.getMetadata().getName());
            }
        }
    }

    @Test
    void theGeneratedIdentityIsAnAnchorAndAnIssuerItSigned() throws Exception {
        List<HasMetadata> objects = typed(Golden.hypha("install").out());
        Secret issuer = (Secret) objects.stream().filter(o -> o.getMetadata().getName().equals("hypha-identity-issuer"))
                .findFirst().orElseThrow();
        assertEquals("kubernetes.io/tls", issuer.getType());
        var cert = Pki.certificates(decode(issuer.getData().get("tls.crt")), "tls.crt").get(0);
        var anchor = Pki.certificates(decode(issuer.getData().get("ca.crt")), "ca.crt").get(0);
        assertTrue(Pki.signedBy(cert, anchor));
        assertTrue(Pki.matches(cert, Pki.privateKey(decode(issuer.getData().get("tls.key")), "tls.key")));
        assertTrue(cert.getBasicConstraints() >= 0, "the issuer is a CA");
        var cm = (io.fabric8.kubernetes.api.model.ConfigMap) objects.stream()
                .filter(o -> o.getMetadata().getName().equals("hypha-config")).findFirst().orElseThrow();
        assertEquals(anchor, Pki.certificates(cm.getData().get("trust-anchors.pem"), "anchors").get(0),
                "proxies get the same anchor");
        // two installs make two different identities
        String other = Golden.hypha("install").out();
        assertFalse(other.contains(issuer.getData().get("tls.key")));
    }

    @Test
    void bringYourOwnIdentityIsCheckedAndUsed() throws Exception {
        Instant now = Instant.now();
        Pki.Issued root = Pki.root("root.example", now, Duration.ofDays(3650));
        Pki.Issued issuer = Pki.intermediate("issuer.example", root, now, Duration.ofDays(365));
        Path dir = Files.createTempDirectory("byo");
        Path anchors = Files.writeString(dir.resolve("ca.crt"), root.certPem());
        Path cert = Files.writeString(dir.resolve("issuer.crt"), issuer.certPem());
        Path key = Files.writeString(dir.resolve("issuer.key"), issuer.keyPem());
        Golden.Run r = Golden.hypha("install", "--identity-trust-anchors-file", anchors.toString(),
                "--identity-issuer-certificate-file", cert.toString(), "--identity-issuer-key-file", key.toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains(Base64.getEncoder().encodeToString(issuer.certPem().getBytes(
                StandardCharsets.US_ASCII))), "the issuer given is the one installed");

        Pki.Issued stranger = Pki.root("someone.else", now, Duration.ofDays(30));
        Files.writeString(anchors, stranger.certPem());
        r = Golden.hypha("install", "--identity-trust-anchors-file", anchors.toString(),
                "--identity-issuer-certificate-file", cert.toString(), "--identity-issuer-key-file", key.toString());
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("the issuer certificate is not signed by any of the trust anchors"), r.err());
        assertEquals("", r.out(), "nothing is rendered when the identity is refused");

        r = Golden.hypha("install", "--identity-trust-anchors-file", anchors.toString());
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("go together"), r.err());
    }

    @Test
    void haAndSetAndCrdsOnly() throws Exception {
        List<HasMetadata> objects = typed(Golden.hypha("install", "--ha", "--set", "proxy-log-level=debug").out());
        for (HasMetadata o : objects) {
            if (o instanceof Deployment d) {
                assertEquals(3, d.getSpec().getReplicas());
                var anti = d.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity();
                assertEquals(1, anti.getRequiredDuringSchedulingIgnoredDuringExecution().size(), "required on HA");
                assertTrue(anti.getPreferredDuringSchedulingIgnoredDuringExecution().isEmpty());
            }
            if (o.getMetadata().getName().equals("hypha-config")) {
                assertEquals("debug", ((io.fabric8.kubernetes.api.model.ConfigMap) o).getData().get("proxy-log-level"));
            }
        }
        Golden.Run bad = Golden.hypha("install", "--set", "proxy-cpu-request=lots", "--set", "nonsense=1");
        assertEquals(2, bad.rc());
        assertTrue(bad.err().contains("proxy-cpu-request='lots' is not valid: expected a CPU quantity"), bad.err());
        assertTrue(bad.err().contains("unknown key 'nonsense'"), bad.err());
        bad = Golden.hypha("install", "--set", "novalue");
        assertEquals(2, bad.rc());

        List<HasMetadata> crds = typed(Golden.hypha("install", "--crds").out());
        assertEquals(1, crds.size());
        assertInstanceOf(CustomResourceDefinition.class, crds.get(0));
    }

    @Test
    void theCrdSchemasAreStructural() throws Exception {
        for (HasMetadata o : typed(Golden.hypha("install", "--crds").out())) {
            JsonNode crd = Install.parseYaml(SERIAL.asJson(o)).get(0);
            for (JsonNode v : crd.at("/spec/versions")) {
                List<String> problems = StructuralSchema.check(v.at("/schema/openAPIV3Schema"));
                assertEquals(List.of(), problems, o.getMetadata().getName() + " " + v.path("name").asText());
            }
        }
        // and the checker does catch what the API server refuses
        JsonNode bad = Install.parseYaml("""
                type: object
                properties:
                  spec:
                    properties:
                      x: {type: string}
                    additionalProperties: {type: string}
                  list:
                    type: array
                  metadata:
                    type: object
                    properties:
                      labels: {type: object}
                  any:
                    anyOf:
                    - type: string
                """).get(0);
        List<String> p = StructuralSchema.check(bad);
        assertTrue(p.stream().anyMatch(s -> s.contains(".spec") && s.contains("no type")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("properties and additionalProperties")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(".list") && s.contains("items")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("metadata")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("anyOf") && s.contains("type")), p.toString());
    }

    @Test
    void uninstallNamesWhatInstallMade() throws Exception {
        Golden.Run r = Golden.hypha("uninstall");
        assertEquals(0, r.rc(), r.err());
        List<String> names = new ArrayList<>();
        for (JsonNode d : Install.parseYaml(r.out())) {
            names.add(d.path("kind").asText() + "/" + d.path("metadata").path("name").asText());
        }
        assertTrue(names.containsAll(List.of("Namespace/hypha-system", "ClusterRole/hypha-control",
                "ClusterRoleBinding/hypha-injector", "MutatingWebhookConfiguration/hypha-injector",
                "CustomResourceDefinition/serviceprofiles.hypha.dev")), names.toString());
        assertEquals("MutatingWebhookConfiguration/hypha-injector", names.get(1),
                "the webhook goes early, so no pod creation calls a deleted injector");
    }

    static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.US_ASCII);
    }
}
