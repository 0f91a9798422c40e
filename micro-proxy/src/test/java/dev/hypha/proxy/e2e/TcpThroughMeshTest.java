package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TcpServers;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opaque TCP through the pair: byte-exact relay, half-close, and server-speaks-first protocols. */
class TcpThroughMeshTest {
    @TempDir
    Path dir;

    @Test
    void tenMegabytesEchoByteForByteWithHalfClose() throws Exception {
        try (ServerSocket echo = TcpServers.echo();
                Mesh mesh = Mesh.start(dir, new int[] {echo.getLocalPort()}, new Mesh.Options()
                        .client(ConfigParser.OUTBOUND_TARGET, "svc.test:" + echo.getLocalPort())
                        .client(ConfigParser.OPAQUE_PORTS, Integer.toString(echo.getLocalPort())))) {
            byte[] payload = new byte[10 * 1024 * 1024];
            new Random(42).nextBytes(payload);
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", mesh.outboundPort()), 5000);
                s.setSoTimeout(30_000);
                Thread writer = new Thread(() -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        for (int off = 0; off < payload.length; off += 65536) {
                            out.write(payload, off, Math.min(65536, payload.length - off));
                        }
                        out.flush();
                        s.shutdownOutput(); // half-close: the echo server finishes, then closes its side
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                writer.start();
                ByteArrayOutputStream got = new ByteArrayOutputStream(payload.length);
                InputStream in = s.getInputStream();
                byte[] buf = new byte[65536];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    got.write(buf, 0, n);
                }
                writer.join(30_000);
                assertEquals(payload.length, got.size(), "EOF must come only after every byte (half-close kept)");
                assertArrayEquals(payload, got.toByteArray());
            }
        }
    }

    @Test
    void serverSpeaksFirstOnAnOpaquePortHasNoDetectionDelay() throws Exception {
        try (ServerSocket banner = TcpServers.banner("220 smtp.test ready");
                Mesh mesh = Mesh.start(dir, new int[] {banner.getLocalPort()}, new Mesh.Options()
                        .client(ConfigParser.OUTBOUND_TARGET, "svc.test:" + banner.getLocalPort())
                        .client(ConfigParser.OPAQUE_PORTS, Integer.toString(banner.getLocalPort()))
                        .server(ConfigParser.OPAQUE_PORTS, Integer.toString(banner.getLocalPort())))) {
            long t0 = System.nanoTime();
            String transcript = talk(mesh.outboundPort());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals("220 smtp.test ready|bye HELO me", transcript);
            assertTrue(ms < 500, "took " + ms + " ms");
        }
    }

    @Test
    void serverSpeaksFirstOnAnUnlistedPortWaitsOnlyForTheDetectTimeout() throws Exception {
        try (ServerSocket banner = TcpServers.banner("* OK imap.test");
                Mesh mesh = Mesh.start(dir, new int[] {banner.getLocalPort()}, new Mesh.Options()
                        .client(ConfigParser.OUTBOUND_TARGET, "svc.test:" + banner.getLocalPort())
                        .client(ConfigParser.DETECT_TIMEOUT, "200ms"))) {
            long t0 = System.nanoTime();
            String transcript = talk(mesh.outboundPort());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals("* OK imap.test|bye HELO me", transcript);
            assertTrue(ms >= 150 && ms < 1000, "a silent client is forwarded as TCP after the detect timeout; took "
                    + ms + " ms");
        }
    }

    @Test
    void aReaderThatStopsReadingStallsTheWriter() throws Exception {
        java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        try (ServerSocket firehose = new ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (Socket s = firehose.accept()) {
                    byte[] buf = new byte[65536];
                    OutputStream out = s.getOutputStream();
                    while (true) {
                        out.write(buf);
                        written.addAndGet(buf.length);
                    }
                } catch (Exception ignored) {
                    // closed at the end of the test
                }
            });
            t.setDaemon(true);
            t.start();
            try (Mesh mesh = Mesh.start(dir, new int[] {firehose.getLocalPort()}, new Mesh.Options()
                    .client(ConfigParser.OUTBOUND_TARGET, "svc.test:" + firehose.getLocalPort())
                    .client(ConfigParser.OPAQUE_PORTS, Integer.toString(firehose.getLocalPort())));
                    Socket s = new Socket()) {
                s.setReceiveBufferSize(65536);
                s.connect(new InetSocketAddress("127.0.0.1", mesh.outboundPort()), 5000);
                long deadline = System.nanoTime() + 15_000_000_000L;
                long last = -1;
                while (System.nanoTime() < deadline) {
                    Thread.sleep(500);
                    long now = written.get();
                    if (now == last && now > 0) {
                        break;
                    }
                    last = now;
                }
                long stalled = written.get();
                Thread.sleep(1000);
                assertEquals(stalled, written.get(), "the writer must stay stalled while nobody reads");
                assertTrue(stalled < 64L * 1024 * 1024, "proxies buffered without bound: " + stalled + " bytes");
                // and when the reader reads again, bytes flow again
                long resumeDeadline = System.nanoTime() + 10_000_000_000L;
                long drained = 0;
                while (written.get() == stalled && System.nanoTime() < resumeDeadline) {
                    drained += s.getInputStream().readNBytes(256 * 1024).length;
                }
                assertTrue(drained <= stalled, "read more than was ever written");
                assertTrue(written.get() > stalled, "the writer never resumed");
            }
        }
    }

    /** Reads the banner, sends one line, reads the answer. */
    private static String talk(int port) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            String banner = line(in);
            s.getOutputStream().write("HELO me\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            return banner + "|" + line(in);
        }
    }

    private static String line(InputStream in) throws Exception {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            if (c != '\r') {
                sb.append((char) c);
            }
        }
        return sb.toString();
    }
}
