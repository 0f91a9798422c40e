package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TestPki;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application's own TLS is not the mesh's: it passes through both proxies untouched (the client completes its
 * handshake with the app itself and sees the app's certificate), both inside the mesh and straight to the inbound
 * port.
 */
class AppTlsPassThroughTest {
    @TempDir
    Path dir;

    @Test
    void applicationTlsIsRelayedAsOpaqueBytes() throws Exception {
        TestPki appPki = new TestPki("app's own CA");
        TestPki.Identity appId = appPki.issue("shop.example.com", dir.resolve("app"));
        SSLContext server = sslContext(appId, true);
        SSLContext client = sslContext(appId, false);
        try (SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 10,
                InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                for (int i = 0; i < 2; i++) {
                    try (SSLSocket s = (SSLSocket) ss.accept()) {
                        InputStream in = s.getInputStream();
                        byte[] buf = new byte[5];
                        int n = in.readNBytes(buf, 0, 5);
                        OutputStream out = s.getOutputStream();
                        out.write(("tls-echo:" + new String(buf, 0, n, StandardCharsets.US_ASCII)).getBytes());
                        out.flush();
                    } catch (Exception ignored) {
                        // next
                    }
                }
            });
            t.setDaemon(true);
            t.start();
            int port = ss.getLocalPort();
            try (Mesh mesh = Mesh.start(dir, new int[] {port}, new Mesh.Options()
                    .client(ConfigParser.OUTBOUND_TARGET, "svc.test:" + port)
                    .server(ConfigParser.INBOUND_TARGET, "127.0.0.1:" + port))) {
                // through the mesh: app TLS inside mesh mTLS
                assertEquals("tls-echo:hello", talk(client, mesh.outboundPort()));
                // straight to the inbound port: app TLS passes through to the app
                assertEquals("tls-echo:hello", talk(client, mesh.server.inboundAddress().getPort()));
                String m = mesh.metrics(mesh.server);
                assertTrue(m.contains("hypha_protocol_detections_total{direction=\"inbound\",protocol=\"tls\"} 1"), m);
            }
        }
    }

    private static String talk(SSLContext ctx, int port) throws Exception {
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.startHandshake();
            X509Certificate peer = (X509Certificate) s.getSession().getPeerCertificates()[0];
            assertTrue(peer.getSubjectX500Principal().getName().contains("shop.example.com"),
                    "the client must see the app's certificate, not a proxy's");
            s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readNBytes("tls-echo:hello".length()), StandardCharsets.US_ASCII);
        }
    }

    private static SSLContext sslContext(TestPki.Identity id, boolean server) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        X509Certificate cert;
        X509Certificate root;
        try (var in = java.nio.file.Files.newInputStream(id.cert())) {
            cert = (X509Certificate) cf.generateCertificate(in);
        }
        try (var in = java.nio.file.Files.newInputStream(id.anchors())) {
            root = (X509Certificate) cf.generateCertificate(in);
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        String pem = java.nio.file.Files.readString(id.key());
        byte[] der = java.util.Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
        var key = java.security.KeyFactory.getInstance("EC").generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(der));
        ks.setKeyEntry("k", key, new char[0], new X509Certificate[] {cert});
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("root", root);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(server ? kmf.getKeyManagers() : null, tmf.getTrustManagers(), null);
        return c;
    }
}
