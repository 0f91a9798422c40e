package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.testing.HttpBackend;
import java.nio.file.Files;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real binary (a child JVM) gets SIGTERM while a request is in flight; the request completes. */
class GracefulShutdownTest {
    @TempDir
    Path dir;

    static int freePort() {
        return dev.hypha.testing.FreePorts.outsideEphemeralRange();
    }

    @Test
    void inFlightRequestCompletesAfterSigterm() throws Exception {
        try (HttpBackend app = new HttpBackend()) {
            int out = freePort();
            int admin = freePort();
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), "dev.hypha.proxy.Main");
            pb.environment().keySet().removeIf(k -> k.startsWith("HYPHA_PROXY_"));
            pb.environment().put("HYPHA_PROXY_MODE", "explicit");
            pb.environment().put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + out);
            pb.environment().put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:0");
            pb.environment().put("HYPHA_PROXY_ADMIN_LISTEN_ADDR", "127.0.0.1:" + admin);
            pb.environment().put("HYPHA_PROXY_TAP_LISTEN_ADDR", "127.0.0.1:0");
            pb.environment().put("HYPHA_PROXY_SHUTDOWN_GRACE", "10s");
            pb.redirectErrorStream(true).redirectOutput(dir.resolve("proxy.log").toFile());
            Process p = pb.start();
            try {
                waitListening(out, p);
                CompletableFuture<String> inFlight = CompletableFuture.supplyAsync(() -> {
                    try (Socket s = new Socket()) {
                        s.connect(new InetSocketAddress("127.0.0.1", out), 5000);
                        s.setSoTimeout(15_000);
                        s.getOutputStream().write(("GET /slow?ms=1500 HTTP/1.1\r\nHost: 127.0.0.1:" + app.port()
                                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                        return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                    } catch (Exception e) {
                        return "error: " + e;
                    }
                });
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (app.seen.isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertTrue(!app.seen.isEmpty(), "request never reached the app");
                p.destroy(); // SIGTERM
                String r = inFlight.get(15, TimeUnit.SECONDS);
                assertTrue(r.startsWith("HTTP/1.1 200"), r);
                assertTrue(r.toLowerCase().contains("connection: close"),
                        "a draining proxy tells HTTP/1 clients it closes: " + r);
                assertTrue(p.waitFor(15, TimeUnit.SECONDS), "proxy did not exit after draining");
                String log = Files.readString(dir.resolve("proxy.log"));
                assertTrue(log.contains("shutting down: draining"), log);
                assertTrue(log.contains("stopped"), log);
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void badConfigurationStopsTheProxyWithAClearMessage() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "dev.hypha.proxy.Main");
        pb.environment().put("HYPHA_PROXY_DETECT_TIMEOUT", "forever");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("HYPHA_PROXY_DETECT_TIMEOUT='forever' is not valid"), out);
    }

    static void waitListening(int port, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("proxy exited with " + p.exitValue());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (Exception e) {
                Thread.sleep(20);
            }
        }
        throw new AssertionError("proxy did not listen on " + port);
    }
}
