package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.hypha.proxy.testing.Cmd;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * curl → proxy A (outbound) → mTLS → proxy B (inbound) → app, for HTTP/1.1 and HTTP/2, on loopback.
 * The app echoes what it received, so each test checks what crossed the mesh, not just a status.
 */
class HttpThroughMeshTest {
    @TempDir
    static Path dir;
    static HttpBackend app;
    static Mesh mesh;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Cmd.available("curl") || Cmd.inCi(), "curl is not installed");
        app = new HttpBackend();
        mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options());
    }

    @AfterAll
    static void stop() {
        if (mesh != null) {
            mesh.close();
        }
        if (app != null) {
            app.close();
        }
    }

    static String authority() {
        return "svc.test:" + app.port();
    }

    static Cmd.Result curl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20", "-D", "-",
                "--connect-to", authority() + ":127.0.0.1:" + mesh.outboundPort()));
        cmd.addAll(List.of(args));
        return Cmd.run(30, cmd);
    }

    static String header(String response, String name) {
        for (String line : response.split("\r\n")) {
            int c = line.indexOf(':');
            if (c > 0 && line.substring(0, c).equalsIgnoreCase(name)) {
                return line.substring(c + 1).trim();
            }
        }
        return null;
    }

    @Test
    void http1GetCrossesTheMeshAndCarriesTheClientIdentity() throws Exception {
        Cmd.Result r = curl("http://" + authority() + "/hello?x=1");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("HTTP/1.1 200"), r.out());
        assertEquals("h1", header(r.out(), "x-echo-proto"), "HTTP/1 must come out as HTTP/1 at the app");
        assertEquals("/hello?x=1", header(r.out(), "x-echo-uri"));
        assertEquals(authority(), header(r.out(), "x-echo-host"));
        assertEquals(Mesh.ID_A, header(r.out(), "x-echo-client-id"));
    }

    @Test
    void clientSentIdentityHeaderIsDropped() throws Exception {
        Cmd.Result r = curl("-H", "hypha-client-id: forged.identity", "http://" + authority() + "/forged");
        assertEquals(0, r.exit(), r.err());
        assertEquals(Mesh.ID_A, header(r.out(), "x-echo-client-id"));
    }

    @Test
    void keepAliveReusesTheClientConnection() throws Exception {
        Cmd.Result r = curl("http://" + authority() + "/one", "http://" + authority() + "/two",
                "http://" + authority() + "/three");
        assertEquals(0, r.exit(), r.err());
        assertEquals(3, r.out().split("HTTP/1.1 200", -1).length - 1, r.out());
        assertTrue(r.err().isEmpty() || !r.err().contains("Connection died"), r.err());
    }

    @Test
    void chunkedUploadWithTrailerArrivesWhole() throws Exception {
        Path body = Files.createTempFile(dir, "body", ".bin");
        byte[] data = new byte[300_000];
        new java.util.Random(7).nextBytes(data);
        Files.write(body, data);
        Cmd.Result r = curl("-X", "POST", "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
                "--data-binary", "@" + body, "http://" + authority() + "/upload", "-o", dir.resolve("echo.bin").toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals("300000", header(r.out(), "x-echo-body-length"));
        assertTrue(java.util.Arrays.equals(data, Files.readAllBytes(dir.resolve("echo.bin"))), "echoed body differs");
    }

    @Test
    void concurrentLargeUploadsAllArriveWholeOverTheSharedMeshConnection() throws Exception {
        // Eight 1 MB uploads at once, half of them from HTTP/2 clients: all cross the mesh as streams of one HTTP/2
        // connection, whose connection window only refills as the proxies credit back what they forwarded
        // (and the HTTP/2 clients' own connections likewise). A credit lost anywhere stalls them all.
        byte[] data = new byte[1_000_000];
        new java.util.Random(11).nextBytes(data);
        Path body = Files.createTempFile(dir, "large", ".bin");
        Files.write(body, data);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<Cmd.Result>> runs = new ArrayList<>();
            List<Path> outs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Path out = dir.resolve("large-echo-" + i + ".bin");
                outs.add(out);
                String proto = i % 2 == 0 ? "--http1.1" : "--http2-prior-knowledge";
                runs.add(pool.submit(() -> curl(proto, "-X", "POST", "-H", "Expect:", "--data-binary", "@" + body,
                        "http://" + authority() + "/upload", "-o", out.toString())));
            }
            for (int i = 0; i < 8; i++) {
                Cmd.Result r = runs.get(i).get(60, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(0, r.exit(), "upload " + i + ": " + r.err());
                assertEquals("1000000", header(r.out(), "x-echo-body-length"), "upload " + i + ": " + r.out());
                assertTrue(java.util.Arrays.equals(data, Files.readAllBytes(outs.get(i))), "upload " + i + " echoed differs");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aClientThatStopsReadingDoesNotStallTheOthersOnTheSharedMeshConnection() throws Exception {
        // A client asks for 16 MB and stops reading. Once the socket buffers between it and the outbound proxy are
        // full, its stream on the shared mesh connection holds a whole stream window (64 KiB) that the outbound
        // proxy cannot credit back. With a connection window of HTTP/2's default 64 KiB that is all of it, and every
        // other response body to this destination waits for that client (they all did, until the connection window
        // was made larger than a stream's).
        try (java.net.Socket stalled = new java.net.Socket()) {
            stalled.setReceiveBufferSize(4096);
            stalled.connect(new java.net.InetSocketAddress("127.0.0.1", mesh.outboundPort()), 5000);
            stalled.setSoTimeout(20_000);
            stalled.getOutputStream().write(("GET /bytes?bytes=16000000 HTTP/1.1\r\nHost: " + authority()
                    + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            stalled.getOutputStream().flush();
            assertEquals("HTTP/1.1 200", new String(stalled.getInputStream().readNBytes(12),
                    java.nio.charset.StandardCharsets.US_ASCII));
            long stalledAt = waitUntilUpstreamBytesStopGrowing();
            assertTrue(stalledAt < 16_000_000L, "the download did not stall: " + stalledAt + " bytes crossed");
            for (int i = 0; i < 3; i++) {
                Cmd.Result r = curl("http://" + authority() + "/bytes?bytes=300000", "-o", "/dev/null",
                        "-w", "%{size_download}");
                assertEquals(0, r.exit(), "request " + i + " behind the stalled stream: " + r.err());
                assertTrue(r.out().endsWith("300000"), r.out());
            }
        }
    }

    /**
     * Bytes the outbound proxy has read from its upstream connections (published per MiB), once they stopped growing
     * for half a second.
     */
    private static long waitUntilUpstreamBytesStopGrowing() throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        long last = -1;
        int same = 0;
        while (System.nanoTime() < deadline) {
            long now = upstreamTotal("hypha_tcp_read_bytes_total");
            same = now == last && now >= (1 << 20) ? same + 1 : 0;
            if (same == 5) {
                return now;
            }
            last = now;
            Thread.sleep(100);
        }
        throw new AssertionError("the outbound proxy's upstream bytes never settled (last " + last + ")");
    }

    @Test
    void expectContinueIsAnsweredByTheAppThroughBothProxies() throws Exception {
        Path body = Files.createTempFile(dir, "body", ".txt");
        Files.writeString(body, "x".repeat(5000));
        Cmd.Result r = curl("-X", "PUT", "-H", "Expect: 100-continue", "--expect100-timeout", "15",
                "--data-binary", "@" + body, "http://" + authority() + "/continue");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("HTTP/1.1 100"), "the client must see the app's 100 Continue: " + r.out());
        assertTrue(r.out().contains("HTTP/1.1 200"), r.out());
        assertEquals("5000", header(r.out().substring(r.out().indexOf("HTTP/1.1 200")), "x-echo-body-length"));
    }

    @Test
    void http2PriorKnowledgeCrossesTheMeshAsHttp2() throws Exception {
        Cmd.Result r = curl("--http2-prior-knowledge", "-d", "h2 body", "http://" + authority() + "/h2");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("HTTP/2 200"), r.out());
        assertEquals("h2", header(r.out(), "x-echo-proto"));
        assertEquals(Mesh.ID_A, header(r.out(), "x-echo-client-id"));
        assertEquals("7", header(r.out(), "x-echo-body-length"));
    }

    @Test
    void appStatusAndHeadArePassedOn() throws Exception {
        Cmd.Result r = curl("http://" + authority() + "/status/503");
        assertTrue(r.out().startsWith("HTTP/1.1 503"), r.out());
        assertEquals(null, header(r.out(), "hypha-proxy-error"), "an app's 503 is not a proxy error");
        Cmd.Result head = curl("-I", "http://" + authority() + "/bytes?bytes=1234");
        assertEquals(0, head.exit(), head.err());
        assertEquals("1234", header(head.out(), "content-length"));
    }

    @Test
    void h2loadManyStreamsAllSucceed() throws Exception {
        h2loadAllSucceed(2000, 4, 16, "/load");
    }

    /**
     * Runs h2load through the outbound proxy ({@code requests} over {@code connections}, {@code streams} at once on
     * each) and asserts that every request succeeded with a 2xx. h2load has no --connect-to; it sends :authority
     * from the URL, so the URL names the outbound port and an :authority override names the service.
     */
    private static void h2loadAllSucceed(int requests, int connections, int streams, String path) throws Exception {
        assumeTrue(Cmd.available("h2load") || Cmd.inCi(), "h2load is not installed");
        Cmd.Result r = Cmd.run(60, "h2load", "-n", Integer.toString(requests), "-c", Integer.toString(connections),
                "-m", Integer.toString(streams), "-H", ":authority: " + authority(),
                "http://127.0.0.1:" + mesh.outboundPort() + path);
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains(requests + " succeeded, 0 failed, 0 errored"), r.out());
        assertTrue(r.out().contains("status codes: " + requests + " 2xx"), r.out());
    }

    @Test
    void moreConcurrentRequestsThanTheServerAllowsStreamsAllSucceed() throws Exception {
        // 400 requests at once, each answered after 300 ms: more than the 256 concurrent streams the inbound proxy
        // allows on one connection, so the outbound proxy must spread them over a second mesh connection (they
        // were refused past the 256th before).
        h2loadAllSucceed(800, 2, 200, "/bytes?bytes=10&ms=300");
        // the connection that was full closes once its streams are done: one mesh connection is left
        long deadline = System.nanoTime() + 10_000_000_000L;
        long open;
        while ((open = upstreamTotal("hypha_tcp_open_connections")) > 1 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(1, open, "upstream connections open at the outbound proxy");
    }

    /** The sum of a metric's series for the outbound proxy's upstream connections. */
    private static long upstreamTotal(String family) throws Exception {
        return mesh.metrics(mesh.client).lines()
                .filter(l -> l.startsWith(family + "{direction=\"upstream\""))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void metricsShowTheRequestWithBothIdentities() throws Exception {
        curl("http://" + authority() + "/metrics-check");
        String in = mesh.metrics(mesh.server);
        assertTrue(in.contains("hypha_http_requests_total{direction=\"inbound\"") && in.contains("client_id=\"" + Mesh.ID_A + "\""),
                in);
        String out = mesh.metrics(mesh.client);
        assertTrue(out.contains("server_id=\"" + Mesh.ID_B + "\""), out);
        // the outbound request counter names the hop as the responses do: mTLS to the server's proxy
        assertTrue(out.lines().anyMatch(l -> l.startsWith("hypha_http_requests_total{direction=\"outbound\"")
                && l.contains("tls=\"true\"") && l.contains("server_id=\"" + Mesh.ID_B + "\"")), out);
        assertTrue(out.lines().noneMatch(l -> l.startsWith("hypha_http_requests_total{direction=\"outbound\"")
                && l.contains("tls=\"no_identity\"")), out);
        assertTrue(out.contains("hypha_http_response_duration_seconds_bucket"), out);
    }
}
