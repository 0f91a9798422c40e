package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.testing.Http;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TcpServers;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pooled HTTP/1 connections to an app: reused while warm, closed by the proxy once idle for
 * {@code HYPHA_PROXY_HTTP1_IDLE_TIMEOUT} — never earlier — and replaced by a fresh one afterwards.
 */
class PooledConnectionIdleTest {
    private static final long IDLE_MS = 400;

    @TempDir
    Path dir;

    /** One accepted connection as the app saw it. */
    static final class Conn {
        volatile long lastAnswerNanos;
        volatile long closedNanos;
        volatile int answered;
    }

    @Test
    void anIdleConnectionIsReusedThenClosedAfterTheTimeoutAndReplaced() throws Exception {
        List<Conn> conns = new CopyOnWriteArrayList<>();
        try (ServerSocket ss = TcpServers.serve("pooled", s -> {
            Conn c = new Conn();
            conns.add(c);
            serve(s, c);
        })) {
            Mesh.Options o = new Mesh.Options().client(ConfigParser.HTTP1_IDLE_TIMEOUT, IDLE_MS + "ms");
            try (Mesh mesh = Mesh.start(dir, new int[] {}, o)) {
                String host = "127.0.0.1:" + ss.getLocalPort();
                for (int i = 0; i < 3; i++) {
                    String r = Http.rawGetText(mesh.outboundPort(), host, "/");
                    assertTrue(r.startsWith("HTTP/1.1 200"), "request " + i + ": " + r);
                }
                assertEquals(1, conns.size(), "requests one after another share one pooled connection");
                Conn first = conns.get(0);
                assertEquals(3, first.answered);

                long deadline = System.nanoTime() + 10_000_000_000L;
                while (first.closedNanos == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertTrue(first.closedNanos != 0, "the proxy never closed the idle connection");
                long idleMs = (first.closedNanos - first.lastAnswerNanos) / 1_000_000;
                assertTrue(idleMs >= IDLE_MS, "closed after " + idleMs + " ms idle, before the timeout of " + IDLE_MS);

                String r = Http.rawGetText(mesh.outboundPort(), host, "/");
                assertTrue(r.startsWith("HTTP/1.1 200"), "after the idle close: " + r);
                assertEquals(2, conns.size(), "the closed connection is not handed out again: a fresh one is made");
            }
        }
    }

    /** Answers every request on the connection until the peer closes it, and notes when that was. */
    private static void serve(Socket s, Conn c) {
        try {
            InputStream in = s.getInputStream();
            while (Http.skipHead(in)) {
                c.lastAnswerNanos = System.nanoTime();
                s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                        .getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                c.answered++;
            }
        } catch (java.io.IOException ignored) {
            // connection reset: closed too
        }
        c.closedNanos = System.nanoTime();
    }
}
