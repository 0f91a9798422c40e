package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** mTLS between proxies: identities checked on both sides, plain clients refused where the policy says so. */
class MeshTlsTest {
    @TempDir
    Path dir;

    static String rawRequest(int port, String request) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void plainClientIsRefusedWhenTheServerRequiresAMeshIdentity() throws Exception {
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options()
                        .server(ConfigParser.INBOUND_POLICY, "all-authenticated")
                        .server(ConfigParser.INBOUND_TARGET, "127.0.0.1:" + app.port()))) {
            String plain = rawRequest(mesh.server.inboundAddress().getPort(),
                    "GET /secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertTrue(plain.startsWith("HTTP/1.1 403"), plain);
            assertTrue(plain.toLowerCase().contains("hypha-proxy-error: unauthenticated"), plain);
            assertTrue(app.seen.isEmpty(), "the app must never see an unauthenticated request");
            // The same request through the mesh is allowed.
            String meshed = rawRequest(mesh.outboundPort(), "GET /secret HTTP/1.1\r\nHost: svc.test:" + app.port()
                    + "\r\nConnection: close\r\n\r\n");
            assertTrue(meshed.startsWith("HTTP/1.1 200"), meshed);
            assertTrue(meshed.contains(Mesh.ID_A), meshed);
        }
    }

    @Test
    void plainClientIsServedUnderTheDefaultPolicy() throws Exception {
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options()
                        .server(ConfigParser.INBOUND_TARGET, "127.0.0.1:" + app.port()))) {
            String plain = rawRequest(mesh.server.inboundAddress().getPort(),
                    "GET /open HTTP/1.1\r\nHost: x\r\nhypha-client-id: forged\r\nConnection: close\r\n\r\n");
            assertTrue(plain.startsWith("HTTP/1.1 200"), plain);
            assertTrue(plain.contains("x-echo-client-id: null"), "a plain client has no identity: " + plain);
        }
    }

    @Test
    void aServerProvingTheWrongIdentityIsRefusedByTheClientProxy() throws Exception {
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options()
                        .expectIdentity("someone-else.test.serviceaccount.identity.cluster.local"))) {
            String r = rawRequest(mesh.outboundPort(), "GET /x HTTP/1.1\r\nHost: svc.test:" + app.port()
                    + "\r\nConnection: close\r\n\r\n");
            assertTrue(r.startsWith("HTTP/1.1 502"), r);
            assertTrue(r.toLowerCase().contains("hypha-proxy-error: tls_identity_mismatch"), r);
            assertTrue(app.seen.isEmpty(), "no request may reach an unverified server");
            assertTrue(mesh.metrics(mesh.client).contains("reason=\"tls_identity_mismatch\""));
        }
    }

    @Test
    void theInboundProxyRefusesMeshTlsBelow13AndClientsWithoutACertificate() throws Exception {
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options())) {
            int inbound = mesh.server.inboundAddress().getPort();
            var anchors = java.security.KeyStore.getInstance("PKCS12");
            anchors.load(null, null);
            try (var in = java.nio.file.Files.newInputStream(mesh.a.anchors())) {
                anchors.setCertificateEntry("root", java.security.cert.CertificateFactory.getInstance("X.509")
                        .generateCertificate(in));
            }
            var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(anchors);
            // a valid mesh client certificate, for the TLS 1.2 attempt: refused for the version alone
            var ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            String keyPem = java.nio.file.Files.readString(mesh.a.key());
            var key = java.security.KeyFactory.getInstance("EC").generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(
                    java.util.Base64.getMimeDecoder().decode(keyPem.replaceAll("-----[A-Z ]+-----", ""))));
            java.security.cert.Certificate leaf;
            try (var in = java.nio.file.Files.newInputStream(mesh.a.cert())) {
                leaf = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
            }
            ks.setKeyEntry("a", key, new char[0], new java.security.cert.Certificate[] {leaf});
            var kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            for (String[] protocols : new String[][] {{"TLSv1.2"}, {"TLSv1.3"}}) {
                javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
                boolean tls12 = protocols[0].equals("TLSv1.2");
                // TLS 1.2 with a good certificate (refused: version); TLS 1.3 without one (refused: no identity)
                ctx.init(tls12 ? kmf.getKeyManagers() : null, tmf.getTrustManagers(), null);
                try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory()
                        .createSocket("127.0.0.1", inbound)) {
                    s.setSoTimeout(10_000);
                    var params = s.getSSLParameters();
                    params.setProtocols(protocols);
                    params.setApplicationProtocols(new String[] {dev.hypha.proxy.tls.MeshTls.ALPN});
                    params.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName(Mesh.ID_B)));
                    s.setSSLParameters(params);
                    boolean refused;
                    try {
                        s.startHandshake();
                        // TLS 1.3 client auth is checked after the client's Finished: the first read fails
                        s.getOutputStream().write("HYP".getBytes(StandardCharsets.US_ASCII));
                        s.getOutputStream().flush();
                        refused = s.getInputStream().read() < 0;
                    } catch (java.io.IOException e) {
                        refused = true;
                    }
                    assertTrue(refused, String.join(",", protocols) + " without a client certificate must be refused");
                }
            }
            assertTrue(app.seen.isEmpty());
            assertTrue(mesh.metrics(mesh.server).contains("reason=\"tls_handshake_failed\""),
                    mesh.metrics(mesh.server));
        }
    }

    @Test
    void proxyErrorsExplainThemselves() throws Exception {
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options())) {
            int closedPort = dev.hypha.testing.FreePorts.outsideEphemeralRange();
            String refused = rawRequest(mesh.outboundPort(), "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + closedPort
                    + "\r\nConnection: close\r\n\r\n");
            assertTrue(refused.startsWith("HTTP/1.1 502"), refused);
            assertTrue(refused.toLowerCase().contains("hypha-proxy-error: connect_refused"), refused);
            String noHost = rawRequest(mesh.outboundPort(), "GET / HTTP/1.0\r\n\r\n");
            assertTrue(noHost.startsWith("HTTP/1.1 400"), noHost);
            assertTrue(noHost.toLowerCase().contains("hypha-proxy-error: no_target"), noHost);
        }
    }

    @Test
    void credentialsSwapWithoutDroppingLiveConnections() throws Exception {
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options())) {
            HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            URI via = URI.create("http://127.0.0.1:" + mesh.outboundPort() + "/");
            // a keep-alive connection through the pair, then a rotation on both sides, then more requests
            HttpRequest req = HttpRequest.newBuilder(via).timeout(Duration.ofSeconds(10)).build();
            // JDK client forbids Host overrides, so use the raw path for the authority
            String first = rawRequest(mesh.outboundPort(), "GET /before HTTP/1.1\r\nHost: svc.test:" + app.port()
                    + "\r\nConnection: close\r\n\r\n");
            assertTrue(first.startsWith("HTTP/1.1 200"), first);
            var a2 = mesh.pki.issue(Mesh.ID_A, dir.resolve("a2"));
            var b2 = mesh.pki.issue(Mesh.ID_B, dir.resolve("b2"));
            mesh.client.reloadCredentials(a2.cert(), a2.key(), a2.anchors());
            mesh.server.reloadCredentials(b2.cert(), b2.key(), b2.anchors());
            String after = rawRequest(mesh.outboundPort(), "GET /after HTTP/1.1\r\nHost: svc.test:" + app.port()
                    + "\r\nConnection: close\r\n\r\n");
            assertTrue(after.startsWith("HTTP/1.1 200"), after);
            assertEquals(2, app.seen.size());
            assertTrue(c != null && req != null);
        }
    }
}
