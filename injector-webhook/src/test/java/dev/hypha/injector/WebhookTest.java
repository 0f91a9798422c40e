package dev.hypha.injector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.zjsonpatch.JsonPatch;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The injector over real TLS, verified the way the API server verifies it (the caBundle from the
 * MutatingWebhookConfiguration, the Service's DNS name), with AdmissionReviews shaped as the API server sends them.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true, setup = Cluster.class)
class WebhookTest {
    static final String SVC_NAME = "hypha-injector.hypha-system.svc";

    @Inject
    KubernetesClient client;

    @TestHTTPResource(value = "/inject", tls = true)
    URL inject;

    @TestHTTPResource(value = "/health/ready", management = true)
    URL ready;

    @TestHTTPResource(value = "/metrics", management = true)
    URL metrics;

    SSLContext tls;

    @BeforeEach
    void waitUntilReady() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        int status = 0;
        while (System.nanoTime() < deadline) {
            status = get(ready).status();
            if (status == 200) {
                break;
            }
            Thread.sleep(50);
        }
        assertEquals(200, status, "the injector never became ready (" + ready + "): " + get(ready).body());
        MutatingWebhookConfiguration mw = client.admissionRegistration().v1().mutatingWebhookConfigurations()
                .withName("hypha-injector").get();
        String bundle = mw.getWebhooks().get(0).getClientConfig().getCaBundle();
        for (var w : mw.getWebhooks()) {
            assertEquals(bundle, w.getClientConfig().getCaBundle(), "every webhook gets the same caBundle");
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Base64.getDecoder().decode(bundle))));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        tls = SSLContext.getInstance("TLS");
        tls.init(null, tmf.getTrustManagers(), null);
    }

    @Test
    void theServingCertificateIsRenewedBeforeExpiryWithTheSameCa() throws Exception {
        Secret s = client.secrets().inNamespace("hypha-system").withName(ServingCertificate.SECRET).get();
        X509Certificate leaf = Pki.certificates(text(s.getData().get("tls.crt")), "tls.crt").get(0);
        assertTrue(leaf.getNotAfter().toInstant().isAfter(Instant.now().plus(Duration.ofDays(300))),
                "the 10-day certificate from the setup was renewed: " + leaf.getNotAfter());
        assertEquals(Cluster.oldCaPem, text(s.getData().get("ca.crt")), "the CA (and so the caBundle) is kept");
        String bundle = client.admissionRegistration().v1().mutatingWebhookConfigurations().withName("hypha-injector")
                .get().getWebhooks().get(0).getClientConfig().getCaBundle();
        assertEquals(Cluster.oldCaPem, text(bundle));
        // and the server serves exactly that renewed leaf
        HttpsURLConnection c = (HttpsURLConnection) inject.openConnection();
        c.setSSLSocketFactory(tls.getSocketFactory());
        c.setHostnameVerifier(WebhookTest::forService);
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.getOutputStream().write("{}".getBytes(StandardCharsets.US_ASCII));
        assertEquals(200, c.getResponseCode());
        assertEquals(leaf, c.getServerCertificates()[0]);
        c.disconnect();
    }

    @Test
    void aPodCreateAsTheApiServerSendsItGetsTheProxy() throws Exception {
        byte[] body;
        try (InputStream in = getClass().getResourceAsStream("/pod-create-review.json")) {
            body = in.readAllBytes();
        }
        JsonNode review = Cluster.JSON.readTree(body);
        JsonNode resp = post(body).path("response");
        assertEquals("705ab4f5-6393-11e8-b7cc-42010a800002", resp.path("uid").asText());
        assertTrue(resp.path("allowed").asBoolean());
        assertEquals("JSONPatch", resp.path("patchType").asText(), resp.toString());
        JsonNode patch = Cluster.JSON.readTree(Base64.getDecoder().decode(resp.path("patch").asText()));
        JsonNode pod = JsonPatch.apply(patch, review.at("/request/object"));
        assertEquals("hypha-init", pod.at("/spec/initContainers/0/name").asText());
        assertEquals("hypha-proxy", pod.at("/spec/initContainers/1/name").asText());
        assertEquals("Always", pod.at("/spec/initContainers/1/restartPolicy").asText());
        assertEquals("web", pod.at("/spec/containers/0/name").asText(), "the app container is untouched");
        assertEquals(review.at("/request/object/spec/tolerations"), pod.at("/spec/tolerations"));
        assertEquals(review.at("/request/object/metadata/managedFields"), pod.at("/metadata/managedFields"));
        assertEquals("kube-api-access-x7k2p", pod.at("/spec/volumes/0/name").asText());
        assertEquals("identity.hypha.dev",
                pod.at("/spec/volumes/1/projected/sources/0/serviceAccountToken/audience").asText());
    }

    @Test
    void theWebhookAndInjectManualMakeTheSamePods() throws Exception {
        int compared = 0;
        for (String name : Cluster.cases()) {
            List<JsonNode> in = flatten(Cluster.yaml(name + ".input.yaml"));
            List<JsonNode> golden = flatten(Cluster.yaml(name + ".golden.yaml"));
            assertEquals(in.size(), golden.size(), name);
            for (int i = 0; i < in.size(); i++) {
                String pointer = template(in.get(i));
                if (pointer == null) {
                    continue;
                }
                String ns = in.get(i).path("metadata").path("namespace").asText("default");
                ObjectNode pod = Cluster.JSON.createObjectNode();
                pod.put("apiVersion", "v1");
                pod.put("kind", "Pod");
                ObjectNode meta = in.get(i).at(pointer + "/metadata").isObject()
                        ? (ObjectNode) in.get(i).at(pointer + "/metadata").deepCopy() : Cluster.JSON.createObjectNode();
                meta.put("generateName", in.get(i).path("metadata").path("name").asText() + "-");
                pod.set("metadata", meta);
                pod.set("spec", in.get(i).at(pointer + "/spec").deepCopy());
                JsonNode resp = post(review(pod, ns)).path("response");
                assertTrue(resp.path("allowed").asBoolean(), name);
                JsonNode after = resp.has("patch")
                        ? JsonPatch.apply(Cluster.JSON.readTree(Base64.getDecoder().decode(resp.path("patch").asText())),
                                pod) : pod;
                ((ObjectNode) after.get("metadata")).remove("generateName");
                JsonNode want = golden.get(i).at(pointer);
                assertEquals(want.path("metadata").isMissingNode() ? Cluster.JSON.createObjectNode()
                        : want.get("metadata"), after.get("metadata"), name + ": metadata");
                assertEquals(want.get("spec"), after.get("spec"), name + ": spec");
                compared++;
            }
        }
        assertTrue(compared >= 15, "compared " + compared + " pod templates");
    }

    @Test
    void badInputGetsAWellFormedAnswerNeverAnError() throws Exception {
        String uid = UUID.randomUUID().toString();
        List<byte[]> bodies = new ArrayList<>();
        bodies.add("{".getBytes(StandardCharsets.US_ASCII));
        bodies.add("not json at all".getBytes(StandardCharsets.US_ASCII));
        bodies.add(new byte[0]);
        bodies.add("[]".getBytes(StandardCharsets.US_ASCII));
        bodies.add("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}"
                .getBytes(StandardCharsets.US_ASCII));
        bodies.add(("{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\""
                + uid + "\"}}").getBytes(StandardCharsets.US_ASCII));
        for (byte[] b : bodies) {
            JsonNode r = post(b);
            assertWellFormed(r, new String(b, StandardCharsets.US_ASCII));
        }
        // the wrong kind, with the uid echoed
        ObjectNode deployment = (ObjectNode) Cluster.JSON.readTree(getClass().getResourceAsStream(
                "/pod-create-review.json"));
        ObjectNode req = (ObjectNode) deployment.get("request");
        req.put("uid", uid);
        ((ObjectNode) req.get("kind")).put("group", "apps").put("kind", "Deployment");
        JsonNode r = post(Cluster.JSON.writeValueAsBytes(deployment));
        assertWellFormed(r, "Deployment");
        assertEquals(uid, r.at("/response/uid").asText());
        assertTrue(r.at("/response/status/message").asText().contains("Pod CREATE only"), r.toString());
        // an object that is not a pod
        req.set("kind", Cluster.JSON.readTree("{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}"));
        req.set("object", Cluster.JSON.readTree("{\"spec\":{\"containers\":\"oops\"}}"));
        r = post(Cluster.JSON.writeValueAsBytes(deployment));
        assertWellFormed(r, "bad object");
        assertEquals(uid, r.at("/response/uid").asText());
        // oversized: 4 MiB of annotation; the uid is still found and echoed
        ObjectNode big = (ObjectNode) Cluster.JSON.readTree(getClass().getResourceAsStream("/pod-create-review.json"));
        ((ObjectNode) big.at("/request")).put("uid", uid);
        ((ObjectNode) big.at("/request/object/metadata")).putObject("annotations").put("huge", "x".repeat(4 << 20));
        r = post(Cluster.JSON.writeValueAsBytes(big));
        assertWellFormed(r, "oversized");
        assertEquals(uid, r.at("/response/uid").asText());
        assertTrue(r.at("/response/status/message").asText().contains("larger than 3145728"), r.toString());

        String m = get(metrics).body();
        assertTrue(metric(m, "hypha_injector_admissions_total", "reason=\"bad_request\"") >= 8, m);
        assertTrue(metric(m, "hypha_injector_admissions_total", "reason=\"unsupported_kind\"") >= 1, m);
    }

    @Test
    void skipsAreCountedAndReportedAsEventsOnTheOwner() throws Exception {
        ObjectNode review = (ObjectNode) Cluster.JSON.readTree(getClass().getResourceAsStream("/pod-create-review.json"));
        ((ObjectNode) review.at("/request/object/spec")).put("hostNetwork", true);
        ((ObjectNode) review.at("/request/object/metadata/ownerReferences/0")).put("name", "agent-host-rs");
        JsonNode r = post(Cluster.JSON.writeValueAsBytes(review));
        assertTrue(r.at("/response/allowed").asBoolean());
        assertFalse(r.at("/response").has("patch"));
        assertTrue(r.at("/response/status/message").asText().startsWith("not injected: host_network:"), r.toString());
        Event e = awaitEvent("agent-host-rs");
        assertEquals("InjectionSkipped", e.getReason());
        assertEquals("ReplicaSet", e.getInvolvedObject().getKind());
        assertTrue(e.getMessage().startsWith("host_network: "), e.getMessage());
        assertEquals("hypha-injector", e.getSource().getComponent());

        // a dry run is answered the same but writes no Event (sideEffects: NoneOnDryRun)
        ((ObjectNode) review.at("/request/object/metadata/ownerReferences/0")).put("name", "dry-rs");
        ((ObjectNode) review.at("/request")).put("dryRun", true);
        r = post(Cluster.JSON.writeValueAsBytes(review));
        assertTrue(r.at("/response/status/message").asText().startsWith("not injected: host_network:"));

        String m = get(metrics).body();
        assertTrue(metric(m, "hypha_injector_admissions_total", "reason=\"host_network\"") >= 2, m);
        assertTrue(metric(m, "hypha_injector_admissions_total", "reason=\"injected\"") >= 0, m);
        assertTrue(client.v1().events().inNamespace("shop").list().getItems().stream()
                .noneMatch(ev -> "dry-rs".equals(ev.getInvolvedObject().getName())), "no Event for a dry run");
    }

    @Test
    void onlyOptedInPodsAreInjected() throws Exception {
        ObjectNode review = (ObjectNode) Cluster.JSON.readTree(getClass().getResourceAsStream("/pod-create-review.json"));
        ((ObjectNode) review.get("request")).put("namespace", "plain");
        ((ObjectNode) review.at("/request/object/metadata")).put("namespace", "plain");
        JsonNode r = post(Cluster.JSON.writeValueAsBytes(review));
        assertFalse(r.at("/response").has("patch"), "namespace plain is not opted in");
        assertTrue(r.at("/response/status/message").asText().contains("hypha.dev/inject=enabled"));
        ((ObjectNode) review.at("/request/object/metadata/labels")).put("hypha.dev/inject", "enabled");
        r = post(Cluster.JSON.writeValueAsBytes(review));
        assertEquals("JSONPatch", r.at("/response/patchType").asText(), "the pod's own label opts it in");

        // a namespace the informer has not seen: answered off the event loop, after reading it from the API server
        client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata()
                .withName("brand-new").addToLabels("hypha.dev/inject", "enabled").endMetadata().build()).create();
        ((ObjectNode) review.get("request")).put("namespace", "ghost");
        ((ObjectNode) review.at("/request/object/metadata/labels")).remove("hypha.dev/inject");
        r = post(Cluster.JSON.writeValueAsBytes(review));
        assertTrue(r.at("/response/status/message").asText().contains("namespace ghost has"), r.toString());
        ((ObjectNode) review.get("request")).put("namespace", "brand-new");
        r = post(Cluster.JSON.writeValueAsBytes(review));
        assertEquals("JSONPatch", r.at("/response/patchType").asText(), "opted in by its namespace: " + r);
    }

    // --- helpers ---

    static String template(JsonNode d) {
        return switch (d.path("kind").asText()) {
            case "Pod" -> "";
            case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job" -> "/spec/template";
            case "CronJob" -> "/spec/jobTemplate/spec/template";
            default -> null;
        };
    }

    static List<JsonNode> flatten(List<JsonNode> docs) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode d : docs) {
            if (d.path("kind").asText().endsWith("List")) {
                d.path("items").forEach(out::add);
            } else {
                out.add(d);
            }
        }
        return out;
    }

    static byte[] review(JsonNode pod, String ns) throws IOException {
        ObjectNode r = Cluster.JSON.createObjectNode();
        r.put("apiVersion", "admission.k8s.io/v1");
        r.put("kind", "AdmissionReview");
        ObjectNode req = r.putObject("request");
        req.put("uid", UUID.randomUUID().toString());
        req.set("kind", Cluster.JSON.readTree("{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}"));
        req.set("resource", Cluster.JSON.readTree("{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"}"));
        req.put("namespace", ns);
        req.put("operation", "CREATE");
        req.set("userInfo", Cluster.JSON.readTree("{\"username\":\"system:serviceaccount:kube-system:replicaset-controller\"}"));
        req.set("object", pod);
        req.putNull("oldObject");
        req.put("dryRun", false);
        return Cluster.JSON.writeValueAsBytes(r);
    }

    static void assertWellFormed(JsonNode r, String what) {
        assertEquals("admission.k8s.io/v1", r.path("apiVersion").asText(), what);
        assertEquals("AdmissionReview", r.path("kind").asText(), what);
        assertTrue(r.at("/response/allowed").asBoolean(), what + ": allowed");
        assertTrue(r.at("/response").has("uid"), what + ": uid");
        assertFalse(r.at("/response").has("patch"), what + ": no patch");
        assertFalse(r.at("/response/status/message").asText().isEmpty(), what + ": a message says why");
    }

    /** POST over TLS, trusting only the caBundle and checking the name the API server checks. */
    JsonNode post(byte[] body) throws IOException {
        HttpsURLConnection c = (HttpsURLConnection) inject.openConnection();
        c.setSSLSocketFactory(tls.getSocketFactory());
        c.setHostnameVerifier(WebhookTest::forService);
        c.setConnectTimeout(5000);
        c.setReadTimeout(10000);
        c.setRequestMethod("POST");
        c.setRequestProperty("Content-Type", "application/json");
        c.setDoOutput(true);
        try (OutputStream out = c.getOutputStream()) {
            out.write(body);
        }
        int status = c.getResponseCode();
        if (status != 200) {
            fail("HTTP " + status + " for a body of " + body.length + " bytes");
        }
        try (InputStream in = c.getInputStream()) {
            return Cluster.JSON.readTree(in);
        }
    }

    /** The API server connects to the Service's DNS name: the certificate must be for it. */
    static boolean forService(String host, SSLSession session) {
        try {
            X509Certificate cert = (X509Certificate) session.getPeerCertificates()[0];
            for (List<?> n : cert.getSubjectAlternativeNames()) {
                if (Integer.valueOf(2).equals(n.get(0)) && SVC_NAME.equals(n.get(1))) {
                    return true;
                }
            }
        } catch (Exception e) {
            return false;
        }
        return false;
    }

    record Got(int status, String body) {
    }

    static Got get(URL url) throws IOException {
        HttpURLConnection c = (HttpURLConnection) url.openConnection();
        c.setConnectTimeout(2000);
        c.setReadTimeout(5000);
        try {
            int s = c.getResponseCode();
            InputStream in = s >= 400 ? c.getErrorStream() : c.getInputStream();
            return new Got(s, in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Got(0, e.toString());
        } finally {
            c.disconnect();
        }
    }

    static double metric(String text, String name, String label) {
        double sum = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith(name + "{") && line.contains(label)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    Event awaitEvent(String owner) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            for (Event e : client.v1().events().inNamespace("shop").list().getItems()) {
                if (owner.equals(e.getInvolvedObject().getName())) {
                    return e;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no Event about " + owner);
    }

    static String text(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.US_ASCII);
    }
}
