package dev.hypha.proxy.identity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.Proxy;
import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.testing.FakeIdentityServer;
import dev.hypha.proxy.testing.Http;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TestPki;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Proxies that get their certificates from a (mock) control plane's Identity service. */
class IdentityClientTest {
    @TempDir
    Path dir;

    Map<String, String> env(String identity, int controlPort, String token) throws Exception {
        Path tokenFile = dir.resolve(identity.split("\\.")[0] + ".token");
        Files.writeString(tokenFile, token);
        Map<String, String> e = new HashMap<>();
        e.put(ConfigParser.MODE, "explicit");
        e.put(ConfigParser.OUTBOUND_LISTEN_ADDR, "127.0.0.1:0");
        e.put(ConfigParser.INBOUND_LISTEN_ADDR, "127.0.0.1:0");
        e.put(ConfigParser.ADMIN_LISTEN_ADDR, "127.0.0.1:0");
        e.put(ConfigParser.TAP_LISTEN_ADDR, "127.0.0.1:0");
        e.put(ConfigParser.IDENTITY_ADDR, "127.0.0.1:" + controlPort);
        e.put(ConfigParser.IDENTITY_NAME, identity);
        e.put(ConfigParser.IDENTITY_TOKEN_FILE, tokenFile.toString());
        e.put(ConfigParser.TRUST_ANCHORS_FILE, dir.resolve("anchors.pem").toString());
        e.put(ConfigParser.SHUTDOWN_GRACE, "1s");
        e.put(ConfigParser.CONTROL_PLAINTEXT, "true"); // the mock control plane is plain grpc-java
        return e;
    }

    static int ready(Proxy p) throws Exception {
        return Http.get("http://127.0.0.1:" + p.adminAddress().getPort() + "/ready").statusCode();
    }

    static void awaitReady(Proxy p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline && ready(p) != 200) {
            Thread.sleep(20);
        }
        assertEquals(200, ready(p), "proxy never became ready");
    }

    static int freePort() {
        return dev.hypha.testing.FreePorts.outsideEphemeralRange();
    }

    static String get(int port, String host, String path) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void notReadyUntilCertifiedThenMeshTrafficFlowsAndCertificatesRenewUnderLoad() throws Exception {
        TestPki pki = new TestPki("control-plane root");
        Files.writeString(dir.resolve("anchors.pem"), TestPki.pem("CERTIFICATE", pki.root().getEncoded()));
        int controlPort = freePort();
        try (HttpBackend app = new HttpBackend()) {
            // The control plane is down at first: the proxies start, but are not ready.
            Proxy server = Proxy.start(ConfigParser.parse(env(Mesh.ID_B, controlPort, "token-for:" + Mesh.ID_B)),
                    ch -> null);
            Map<String, String> ce = env(Mesh.ID_A, controlPort, "token-for:" + Mesh.ID_A);
            ce.put(ConfigParser.DESTINATIONS, "svc.test:" + app.port() + "=127.0.0.1:"
                    + server.inboundAddress().getPort() + "@" + Mesh.ID_B);
            Proxy client = Proxy.start(ConfigParser.parse(ce), ch -> null);
            try {
                assertEquals(503, ready(server));
                assertEquals(503, ready(client));
                String early = get(client.outboundAddress().getPort(), "svc.test:" + app.port(), "/early");
                assertTrue(early.startsWith("HTTP/1.1 503") && early.contains("no_identity"), early);

                try (FakeIdentityServer control = new FakeIdentityServer(pki, Duration.ofSeconds(3), controlPort)) {
                    awaitReady(server);
                    awaitReady(client);
                    String r = get(client.outboundAddress().getPort(), "svc.test:" + app.port(), "/certified");
                    assertTrue(r.startsWith("HTTP/1.1 200"), r);
                    assertTrue(r.contains("x-echo-client-id: " + Mesh.ID_A), r);

                    // Leaves live 3 s: traffic keeps flowing while both proxies renew again and again.
                    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
                    int ok = 0;
                    while (System.nanoTime() < until) {
                        String x = get(client.outboundAddress().getPort(), "svc.test:" + app.port(), "/load/" + ok);
                        assertTrue(x.startsWith("HTTP/1.1 200"), "request " + ok + " failed during renewals: " + x);
                        ok++;
                    }
                    assertTrue(control.issued(Mesh.ID_A) >= 3, "client renewed " + control.issued(Mesh.ID_A) + " times");
                    assertTrue(control.issued(Mesh.ID_B) >= 3, "server renewed " + control.issued(Mesh.ID_B) + " times");
                    assertTrue(ok > 50, "only " + ok + " requests");
                    assertEquals(200, ready(client));
                }
            } finally {
                client.shutdown();
                server.shutdown();
            }
        }
    }

    @Test
    void aTokenTheControlPlaneRefusesKeepsTheProxyUnready() throws Exception {
        TestPki pki = new TestPki("control-plane root");
        Files.writeString(dir.resolve("anchors.pem"), TestPki.pem("CERTIFICATE", pki.root().getEncoded()));
        try (FakeIdentityServer control = new FakeIdentityServer(pki, Duration.ofHours(1), 0)) {
            Proxy p = Proxy.start(ConfigParser.parse(env(Mesh.ID_A, control.port(), "token-for:someone-else")), ch -> null);
            try {
                String base = "http://127.0.0.1:" + p.adminAddress().getPort();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                String metrics = "";
                while (System.nanoTime() < deadline) {
                    metrics = Http.get(base + "/metrics").body();
                    if (metrics.contains("hypha_proxy_errors_total{direction=\"identity\",reason=\"certify_failed\"} 1")) {
                        break;
                    }
                    Thread.sleep(20);
                }
                assertTrue(metrics.contains("reason=\"certify_failed\"} 1"), metrics);
                assertEquals(503, ready(p));
                assertEquals(0, control.issued(Mesh.ID_A));
            } finally {
                p.shutdown();
            }
        }
    }

    @Test
    void aTokenFileEndingInANewlineCertifies() throws Exception {
        TestPki pki = new TestPki("control-plane root");
        Files.writeString(dir.resolve("anchors.pem"), TestPki.pem("CERTIFICATE", pki.root().getEncoded()));
        try (FakeIdentityServer control = new FakeIdentityServer(pki, Duration.ofHours(1), 0)) {
            // as `curl -X POST .../join-tokens?... > token` writes it; the mock control plane compares exactly
            Proxy p = Proxy.start(ConfigParser.parse(env(Mesh.ID_A, control.port(), " token-for:" + Mesh.ID_A + "\r\n")),
                    ch -> null);
            try {
                awaitReady(p);
                assertEquals(1, control.issued(Mesh.ID_A));
            } finally {
                p.shutdown();
            }
        }
        assertArrayEquals("abc".getBytes(StandardCharsets.US_ASCII),
                IdentityClient.token("\tabc \n".getBytes(StandardCharsets.US_ASCII)));
        assertArrayEquals(new byte[0], IdentityClient.token(" \n".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void theCsrIsAValidPkcs10ForTheIdentity() throws Exception {
        var g = java.security.KeyPairGenerator.getInstance("EC");
        g.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
        var kp = g.generateKeyPair();
        byte[] der = Csr.build(kp, Mesh.ID_A, "spiffe://cluster.local/ns/test/sa/client");
        var csr = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest(der);
        assertTrue(csr.isSignatureValid(new org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder()
                .build(csr.getSubjectPublicKeyInfo())));
        assertEquals(kp.getPublic(), csr.getPublicKey());
        assertEquals("CN=" + Mesh.ID_A, csr.getSubject().toString());
        var ext = org.bouncycastle.asn1.x509.Extensions.getInstance(csr.getAttributes(
                org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)[0].getAttrValues().getObjectAt(0));
        var sans = org.bouncycastle.asn1.x509.GeneralNames.fromExtensions(ext,
                org.bouncycastle.asn1.x509.Extension.subjectAlternativeName).getNames();
        assertEquals(2, sans.length);
        assertEquals(Mesh.ID_A, sans[0].getName().toString());
        assertEquals("spiffe://cluster.local/ns/test/sa/client", sans[1].getName().toString());
    }
}
