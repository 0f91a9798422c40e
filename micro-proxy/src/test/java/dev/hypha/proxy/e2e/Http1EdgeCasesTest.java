package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.hypha.proxy.testing.Cmd;
import dev.hypha.proxy.testing.Http;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTP/1 framing attacks, pipelining, WebSocket upgrades, and the admin endpoints. */
class Http1EdgeCasesTest {
    @TempDir
    static Path dir;
    static HttpBackend app;
    static Mesh mesh;

    @BeforeAll
    static void start() throws Exception {
        app = new HttpBackend();
        mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options());
    }

    @AfterAll
    static void stop() {
        mesh.close();
        app.close();
    }

    @BeforeEach
    void clear() {
        app.seen.clear();
    }

    static String host() {
        return "svc.test:" + app.port();
    }

    static String exchange(String raw) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", mesh.outboundPort()), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void contentLengthWithTransferEncodingIsRejectedAndNeverForwarded() throws Exception {
        String r = exchange("POST /smuggle HTTP/1.1\r\nHost: " + host() + "\r\nContent-Length: 4\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: " + host() + "\r\n\r\n");
        assertTrue(r.startsWith("HTTP/1.1 400"), r);
        assertTrue(r.toLowerCase().contains("hypha-proxy-error: bad_request"), r);
        assertTrue(!r.contains("x-echo-uri"), "the smuggled request must not be answered: " + r);
        assertTrue(app.seen.isEmpty(), "nothing may reach the app: " + app.seen);
    }

    @Test
    void badChunkSizeIsRejected() throws Exception {
        String r = exchange("POST /chunks HTTP/1.1\r\nHost: " + host() + "\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "zz\r\nhello\r\n0\r\n\r\n");
        assertTrue(r.startsWith("HTTP/1.1 400"), r);
        assertTrue(app.seen.isEmpty(), "a request with a bad chunk must not complete at the app: " + app.seen);
    }

    @Test
    void oversizedHeadersAreRejected() throws Exception {
        String r = exchange("GET /big HTTP/1.1\r\nHost: " + host() + "\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n");
        assertTrue(r.startsWith("HTTP/1.1 431"), r);
        assertTrue(app.seen.isEmpty());
    }

    @Test
    void aClientThatHangsUpLeavesNoConnectionBehind() throws Exception {
        for (boolean h2 : new boolean[] {false, true}) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", mesh.outboundPort()), 5000);
                s.setSoTimeout(10_000);
                if (h2) {
                    s.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // empty SETTINGS
                    s.getOutputStream().flush();
                    s.getInputStream().readNBytes(9); // the server's SETTINGS header
                } else {
                    s.getOutputStream().write(("GET /keep HTTP/1.1\r\nHost: " + host() + "\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    String head = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
                    assertEquals("HTTP/1.1 200", head);
                }
            } // the client closes (FIN) while the connection is idle
            long deadline = System.nanoTime() + 10_000_000_000L;
            String open = "";
            while (System.nanoTime() < deadline) {
                open = mesh.metrics(mesh.client).lines().filter(l -> l.startsWith("hypha_proxy_accepted_connections "))
                        .findFirst().orElse("");
                if (open.endsWith(" 0")) {
                    break;
                }
                Thread.sleep(20);
            }
            assertEquals("hypha_proxy_accepted_connections 0", open, (h2 ? "HTTP/2" : "HTTP/1") + " connection lingers");
        }
    }

    @Test
    void requestTrailersCrossTheMesh() throws Exception {
        String r = exchange("POST /trailers HTTP/1.1\r\nHost: " + host() + "\r\nTransfer-Encoding: chunked\r\n"
                + "Trailer: x-trailer\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nx-trailer: checksum-42\r\n\r\n");
        assertTrue(r.startsWith("HTTP/1.1 200"), r);
        assertTrue(r.contains("x-echo-trailer: checksum-42"), "the trailer must reach the app: " + r);
        assertTrue(r.contains("x-echo-body-length: 5"), r);
    }

    @Test
    void hopByHopHeadersStopAtEachHop() throws Exception {
        String r = exchange("GET /hop HTTP/1.1\r\nHost: " + host() + "\r\nConnection: close, x-private\r\n"
                + "X-Private: for-the-proxy-only\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                + "TE: trailers\r\nX-End-To-End: kept\r\n\r\n");
        assertTrue(r.startsWith("HTTP/1.1 200"), r);
        String names = r.lines().filter(l -> l.startsWith("x-echo-header-names:")).findFirst().orElseThrow();
        assertTrue(names.contains("x-end-to-end"), names);
        for (String hop : new String[] {"x-private", "keep-alive", "proxy-connection", "connection"}) {
            assertTrue(!java.util.Arrays.asList(names.substring(names.indexOf(':') + 1).trim().split(",")).contains(hop),
                    hop + " must not be forwarded: " + names);
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        StringBuilder raw = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            raw.append("GET /p").append(i).append(i % 2 == 0 ? "?ms=30" : "").append(" HTTP/1.1\r\nHost: ")
                    .append(host()).append("\r\n").append(i == 4 ? "Connection: close\r\n" : "").append("\r\n");
        }
        String r = exchange(raw.toString());
        int last = -1;
        for (int i = 0; i < 5; i++) {
            int at = r.indexOf("x-echo-uri: /p" + i);
            assertTrue(at > last, "response " + i + " out of order or missing: " + r);
            last = at;
        }
    }

    @Test
    void webSocketUpgradePassesThroughAndKeepsWorking() throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", mesh.outboundPort()), 5000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET /ws HTTP/1.1\r\nHost: " + host() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 101"), head);
            assertTrue(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), head);
            for (String msg : new String[] {"hello", "again"}) {
                out.write(maskedText(msg));
                out.flush();
                String reply = readText(in);
                assertEquals("echo: " + msg, reply);
            }
        }
    }

    @Test
    void adminEndpoints() throws Exception {
        String base = "http://127.0.0.1:" + mesh.client.adminAddress().getPort();
        assertEquals(200, Http.get(base + "/ready").statusCode());
        assertEquals(200, Http.get(base + "/live").statusCode());
        String cfg = Http.get(base + "/config").body();
        assertTrue(cfg.contains("\"identity\": \"" + Mesh.ID_A + "\""), cfg);
        assertTrue(!cfg.contains("PRIVATE KEY"), "no key material in /config");
        assertEquals(405, Http.get(base + "/shutdown").statusCode());
        assertEquals(400, Http.send("PUT", base + "/log-level", "loud").statusCode());
        assertEquals("debug", Http.send("PUT", base + "/log-level", "debug").body().trim());
        assertEquals("info", Http.send("PUT", base + "/log-level", "info").body().trim());
    }

    @Test
    void metricsPassPromtool() throws Exception {
        assumeTrue(Cmd.available("promtool") || Cmd.inCi(), "promtool is not installed (Debian package prometheus)");
        exchange("GET /for-metrics HTTP/1.1\r\nHost: " + host() + "\r\nConnection: close\r\n\r\n");
        for (var p : new dev.hypha.proxy.Proxy[] {mesh.client, mesh.server}) {
            String m = mesh.metrics(p);
            assertTrue(m.contains("hypha_http_requests_total"), m);
            assertTrue(m.contains("hypha_tcp_open_connections"), m);
            assertTrue(m.contains("hypha_identity_cert_expiration_timestamp_seconds"), m);
            Path f = Files.createTempFile(dir, "metrics", ".txt");
            Files.writeString(f, m);
            Cmd.Result r = Cmd.run(30, "sh", "-c", "promtool check metrics < " + f);
            assertEquals(0, r.exit(), "promtool: " + r.out() + r.err() + "\n" + m);
        }
    }

    private static String readHead(InputStream in) throws Exception {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            sb.append((char) c);
        }
        return sb.toString();
    }

    private static byte[] maskedText(String text) {
        byte[] p = text.getBytes(StandardCharsets.UTF_8);
        byte[] mask = {1, 2, 3, 4};
        byte[] f = new byte[2 + 4 + p.length];
        f[0] = (byte) 0x81;
        f[1] = (byte) (0x80 | p.length);
        System.arraycopy(mask, 0, f, 2, 4);
        for (int i = 0; i < p.length; i++) {
            f[6 + i] = (byte) (p[i] ^ mask[i % 4]);
        }
        return f;
    }

    private static String readText(InputStream in) throws Exception {
        int b0 = in.read();
        int len = in.read() & 0x7f;
        assertEquals(0x81, b0);
        byte[] p = in.readNBytes(len);
        return new String(p, StandardCharsets.UTF_8);
    }
}
