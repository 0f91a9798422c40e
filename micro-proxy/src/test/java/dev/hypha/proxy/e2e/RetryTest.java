package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.RequestMatch;
import dev.hypha.api.v1.RetryBudget;
import dev.hypha.api.v1.Route;
import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.testing.FakeDestinationServer;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retries in the proxy itself (with paranoid leak detection on): a request with a body on a retryable route is sent
 * again after a failure and arrives whole; a body over 64 KiB is never retried.
 */
class RetryTest {
    @TempDir
    Path dir;

    static String post(int port, String host, String path, int bodyBytes) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + bodyBytes
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(new byte[bodyBytes]);
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void aSlowRouteTimesOutAtItsTimeoutWith504AndTheReason() throws Exception {
        try (HttpBackend app = new HttpBackend(); FakeDestinationServer control = new FakeDestinationServer()) {
            String svc = "svc.test:" + app.port();
            control.profiles.put(svc, DestinationProfile.newBuilder().setFullyQualifiedName("svc.test")
                    .addRoutes(Route.newBuilder().setName("slow").setTimeoutMillis(300)
                            .setCondition(RequestMatch.newBuilder().setPathRegex("/slow.*")))
                    .build());
            try (Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options()
                    .client(ConfigParser.DESTINATION_ADDR, "127.0.0.1:" + control.port())
                    .client(ConfigParser.CONTROL_PLAINTEXT, "true"))) {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (System.nanoTime() < deadline && !mesh.metrics(mesh.client).contains("route=\"slow\"")) {
                    post(mesh.outboundPort(), svc, "/slow?ms=1", 1);
                    Thread.sleep(20);
                }
                for (int i = 0; i < 3; i++) {
                    long t0 = System.nanoTime();
                    String r = post(mesh.outboundPort(), svc, "/slow?ms=3000", 1);
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    assertTrue(r.startsWith("HTTP/1.1 504"), r);
                    assertTrue(r.toLowerCase().contains("hypha-proxy-error: route_timeout"), r);
                    assertTrue(Math.abs(ms - 300) <= 50, "the 300 ms route timeout fired after " + ms + " ms");
                }
            }
        }
    }

    @Test
    void retryableRequestsWithBodiesAreReplayedAndBigBodiesAreNot() throws Exception {
        try (HttpBackend app = new HttpBackend(); FakeDestinationServer control = new FakeDestinationServer()) {
            String svc = "svc.test:" + app.port();
            control.profiles.put(svc, DestinationProfile.newBuilder().setFullyQualifiedName("svc.test")
                    .addRoutes(Route.newBuilder().setName("POST /flaky").setIsRetryable(true)
                            .setCondition(RequestMatch.newBuilder().setPathRegex("/flaky.*")))
                    .setRetryBudget(RetryBudget.newBuilder().setRetryRatio(1.0f).setMinRetriesPerSecond(100).setTtlMillis(10_000))
                    .build());
            try (Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options()
                    .client(ConfigParser.DESTINATION_ADDR, "127.0.0.1:" + control.port())
                    .client(ConfigParser.CONTROL_PLAINTEXT, "true"))) {
                // wait for the profile (requests before it are [DEFAULT] and not retried)
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (System.nanoTime() < deadline && !mesh.metrics(mesh.client).contains("route=\"POST /flaky\"")) {
                    post(mesh.outboundPort(), svc, "/flaky/warmup", 10);
                    Thread.sleep(20);
                }
                int ok = 0;
                for (int i = 0; i < 50; i++) {
                    String r = post(mesh.outboundPort(), svc, "/flaky/" + i, 20_000);
                    if (r.startsWith("HTTP/1.1 200")) {
                        ok++;
                        assertTrue(r.contains("x-echo-body-length: 20000"), "the replayed body must arrive whole: " + r);
                    }
                }
                assertEquals(50, ok, "every request on the retryable route succeeds (the backend fails every other one)");
                int big = 0;
                for (int i = 0; i < 20; i++) {
                    if (post(mesh.outboundPort(), svc, "/flaky/big", 70_000).startsWith("HTTP/1.1 200")) {
                        big++;
                    }
                }
                assertTrue(big >= 5 && big <= 15, "bodies over 64 KiB are not retried: " + big + " of 20 succeeded");
                String m = mesh.metrics(mesh.client);
                assertTrue(m.contains("route=\"POST /flaky\",outcome=\"retried\""), m);
                assertTrue(m.contains("route=\"POST /flaky\",outcome=\"not_replayable\""), m);
            }
        }
    }
}
