package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.testing.Http;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TcpServers;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keep-alive race (Linkerd/Istio users' intermittent 503s): the server closes a pooled connection just as the
 * proxy sends the next request on it. A request without a body was certainly not processed, so the proxy sends it
 * again on a fresh connection and the client never sees the failure.
 */
class StaleConnectionTest {
    @TempDir
    Path dir;

    @Test
    void aRequestOnAConnectionTheServerDroppedIsRetriedOnce() throws Exception {
        AtomicInteger dropped = new AtomicInteger();
        try (ServerSocket ss = TcpServers.serve("stale", s -> serveOneThenDrop(s, dropped))) {
            try (Mesh mesh = Mesh.start(dir, new int[] {}, new Mesh.Options())) {
                String host = "127.0.0.1:" + ss.getLocalPort();
                for (int i = 0; i < 5; i++) {
                    String r = Http.rawGetText(mesh.outboundPort(), host, "/");
                    assertTrue(r.startsWith("HTTP/1.1 200"), "request " + i + ": " + r);
                }
                assertTrue(dropped.get() >= 1, "the server never dropped a reused connection; the test proves nothing");
                assertTrue(mesh.metrics(mesh.client).contains("reason=\"stale_connection_retried\""));
            }
        }
    }

    /** Answers the first request on a connection; on the second, closes without answering. */
    private static void serveOneThenDrop(Socket s, AtomicInteger dropped) throws java.io.IOException {
        InputStream in = s.getInputStream();
        Http.skipHead(in);
        s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        if (Http.skipHead(in)) {
            dropped.incrementAndGet();
        }
    }
}
