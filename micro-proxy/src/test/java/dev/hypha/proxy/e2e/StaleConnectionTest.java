package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.testing.Mesh;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                while (!ss.isClosed()) {
                    try {
                        Socket s = ss.accept();
                        Thread w = new Thread(() -> serveOneThenDrop(s, dropped));
                        w.setDaemon(true);
                        w.start();
                    } catch (Exception e) {
                        return;
                    }
                }
            });
            t.setDaemon(true);
            t.start();
            try (Mesh mesh = Mesh.start(dir, new int[] {}, new Mesh.Options())) {
                String host = "127.0.0.1:" + ss.getLocalPort();
                for (int i = 0; i < 5; i++) {
                    String r = get(mesh.outboundPort(), host);
                    assertTrue(r.startsWith("HTTP/1.1 200"), "request " + i + ": " + r);
                }
                assertTrue(dropped.get() >= 1, "the server never dropped a reused connection; the test proves nothing");
                assertTrue(mesh.metrics(mesh.client).contains("reason=\"stale_connection_retried\""));
            }
        }
    }

    /** Answers the first request on a connection; on the second, closes without answering. */
    private static void serveOneThenDrop(Socket s, AtomicInteger dropped) {
        try (s) {
            InputStream in = s.getInputStream();
            readHead(in);
            s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            if (readHead(in)) {
                dropped.incrementAndGet();
            }
        } catch (Exception ignored) {
            // connection ended
        }
    }

    private static boolean readHead(InputStream in) throws Exception {
        int state = 0;
        int c;
        while ((c = in.read()) >= 0) {
            state = (c == '\r' && (state == 0 || state == 2)) ? state + 1 : (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) {
                return true;
            }
        }
        return false;
    }

    private static String get(int port, String host) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
