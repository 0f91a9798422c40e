package dev.hypha.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.hypha.inject.Install;
import dev.hypha.inject.MeshValues;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * The built injector ({@code injector-webhook/target/quarkus-app}) as a process, against the fabric8 mock API
 * server set up as {@code hypha install} leaves a cluster (Kubernetes 1.33, namespace {@code shop} opted in), and a
 * client that trusts only the caBundle the injector wrote and checks the Service's DNS name, as the API server does.
 */
final class InjectorProcess implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path REVIEW = Procs.ROOT.resolve("injector-webhook/src/test/resources/pod-create-review.json");

    final KubernetesMockServer api;
    final KubernetesClient client;
    final Procs procs;
    final Process process;
    final int https;
    final int admin;
    final URL inject;
    private SSLSocketFactory tls;

    InjectorProcess(Path dir) throws Exception {
        var responses = new HashMap<io.fabric8.mockwebserver.ServerRequest,
                java.util.Queue<io.fabric8.mockwebserver.ServerResponse>>();
        api = new KubernetesMockServer(new Context(), new MockWebServer(), responses,
                new KubernetesMixedDispatcher(responses), false);
        api.init(java.net.InetAddress.getLoopbackAddress(), 0);
        api.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("33").withGitVersion("v1.33.1").build());
        client = api.createClient();
        KubernetesSerialization serial = new KubernetesSerialization();
        for (JsonNode d : Install.render(MeshValues.defaults(), Install.Identity.generate("cluster.local",
                Instant.now()), true, false)) {
            String kind = d.path("kind").asText();
            if (List.of("Namespace", "ConfigMap", "MutatingWebhookConfiguration").contains(kind)) {
                client.resource(serial.unmarshal(d.toString(), HasMetadata.class)).create();
            }
        }
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop")
                .addToLabels("hypha.dev/inject", "enabled").endMetadata().build()).create();
        procs = new Procs(dir);
        int[] ports = Procs.freePorts(2);
        https = ports[0];
        admin = ports[1];
        Map<String, String> env = new HashMap<>();
        env.put("QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL", "http://127.0.0.1:" + api.getPort());
        env.put("QUARKUS_KUBERNETES_CLIENT_TOKEN", "not-a-real-token");
        env.put("QUARKUS_HTTP_SSL_PORT", Integer.toString(https));
        env.put("QUARKUS_HTTP_HOST", "127.0.0.1");
        env.put("QUARKUS_MANAGEMENT_PORT", Integer.toString(admin));
        env.put("QUARKUS_MANAGEMENT_HOST", "127.0.0.1");
        env.put("HYPHA_INJECTOR_TLS_DIR", Files.createDirectories(dir.resolve("injector-tls")).toString());
        // the flags of the injector's Deployment (kubernetes/injector/deployment.yaml), with its memory limit
        process = procs.java("injector", Procs.INJECTOR, env, List.of("-XX:+UseSerialGC", "-Xmx240m"));
        procs.awaitOk("http://127.0.0.1:" + admin + "/q/health/ready", "injector", process, 60);
        inject = new URL("https://127.0.0.1:" + https + "/inject");
    }

    /** The client's TLS: the caBundle the injector wrote into the MutatingWebhookConfiguration is the only root. */
    SSLSocketFactory tls() throws Exception {
        if (tls == null) {
            String bundle = client.admissionRegistration().v1().mutatingWebhookConfigurations()
                    .withName("hypha-injector").get().getWebhooks().get(0).getClientConfig().getCaBundle();
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Base64.getDecoder().decode(bundle))));
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            tls = ctx.getSocketFactory();
        }
        return tls;
    }

    /** One review over a kept-alive HTTPS connection; returns the parsed answer. */
    JsonNode post(byte[] body) throws Exception {
        HttpsURLConnection c = (HttpsURLConnection) inject.openConnection();
        c.setSSLSocketFactory(tls());
        c.setHostnameVerifier(FOR_SERVICE); // one instance: connections are kept alive only for the same verifier
        c.setConnectTimeout(5000);
        c.setReadTimeout(10000);
        c.setRequestMethod("POST");
        c.setRequestProperty("Content-Type", "application/json");
        c.setDoOutput(true);
        try (OutputStream out = c.getOutputStream()) {
            out.write(body);
        }
        if (c.getResponseCode() != 200) {
            throw new IOException("HTTP " + c.getResponseCode());
        }
        try (InputStream in = c.getInputStream()) {
            return JSON.readTree(in);
        }
    }

    /** The API server connects to the Service's DNS name: the certificate must be for it. */
    static final javax.net.ssl.HostnameVerifier FOR_SERVICE = (host, session) -> {
        try {
            X509Certificate cert = (X509Certificate) session.getPeerCertificates()[0];
            return cert.getSubjectAlternativeNames().stream()
                    .anyMatch(n -> "hypha-injector.hypha-system.svc".equals(n.get(1)));
        } catch (Exception e) {
            return false;
        }
    };

    static byte[] review() throws IOException {
        return Files.readAllBytes(REVIEW);
    }

    @Override
    public void close() throws Exception {
        procs.close();
        client.close();
        api.destroy();
    }
}
