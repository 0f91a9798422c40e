package dev.hypha.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mesh in local mode, every part a real process on loopback: hypha-control (generated CA, registry file,
 * 10 s leaf certificates), three replicas of an app each behind its own hypha-proxy, and a client proxy. Requests
 * by service name spread over the replicas; a replica killed under load costs at most the request in flight; the
 * control plane killed leaves traffic flowing on the last known endpoints, and discovery resumes when it returns;
 * certificates renew again and again under load without a failed request.
 */
class LocalMeshTest {
    static final String SVC = "web.demo.svc.cluster.local:8080";
    static final String WEB_ID = "web.demo.serviceaccount.identity.cluster.local";
    static final String CLIENT_ID = "client.demo.serviceaccount.identity.cluster.local";

    @TempDir
    Path dir;

    int grpcPort;
    int controlAdmin;
    final int[] appPorts = new int[3];
    final int[] proxyPorts = new int[3];
    final int[] proxyAdmins = new int[3];
    final Process[] replicas = new Process[3];
    final Map<Integer, AtomicInteger> hits = new HashMap<>();

    void writeRegistry(int... replicasIncluded) throws Exception {
        StringBuilder eps = new StringBuilder();
        for (int i : replicasIncluded) {
            eps.append(eps.length() == 0 ? "" : ",").append("{\"address\": \"127.0.0.1:").append(appPorts[i])
                    .append("\", \"identity\": \"").append(WEB_ID).append("\", \"proxyPort\": ").append(proxyPorts[i])
                    .append(", \"labels\": {\"pod\": \"web-").append(i).append("\"}}");
        }
        Path tmp = dir.resolve("registry.tmp");
        Files.writeString(tmp, "{\"services\": {\"" + SVC + "\": {\"endpoints\": [" + eps + "]}}}");
        Files.move(tmp, dir.resolve("registry.json"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    Process startControl(Procs procs) throws Exception {
        return procs.localControl(grpcPort, controlAdmin, Map.of("HYPHA_CONTROL_REGISTRY_RELOAD_INTERVAL", "100ms",
                "HYPHA_CONTROL_LEAF_LIFETIME", "10s"));
    }

    @Test
    void opaqueTcpConnectionsAreBalancedOverDiscoveredEndpointsWithMtls() throws Exception {
        int[] ports = Procs.freePorts(10);
        grpcPort = ports[0];
        controlAdmin = ports[1];
        List<java.net.ServerSocket> echoes = new ArrayList<>();
        AtomicInteger[] conns = {new AtomicInteger(), new AtomicInteger()};
        try (Procs procs = new Procs(dir)) {
            StringBuilder eps = new StringBuilder();
            for (int i = 0; i < 2; i++) {
                java.net.ServerSocket ss = new java.net.ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                echoes.add(ss);
                int idx = i;
                Thread t = new Thread(() -> {
                    while (!ss.isClosed()) {
                        try (Socket c = ss.accept()) {
                            conns[idx].incrementAndGet();
                            c.getOutputStream().write(("echo-" + idx + ":").getBytes(StandardCharsets.US_ASCII));
                            c.getOutputStream().write(c.getInputStream().readNBytes(5));
                            c.getOutputStream().flush();
                        } catch (Exception e) {
                            // next connection
                        }
                    }
                });
                t.setDaemon(true);
                t.start();
                eps.append(i == 0 ? "" : ",").append("{\"address\": \"127.0.0.1:").append(ss.getLocalPort())
                        .append("\", \"identity\": \"").append(WEB_ID).append("\", \"proxyPort\": ").append(ports[2 + i])
                        .append("}");
            }
            Files.writeString(dir.resolve("registry.json"), "{\"services\": {\"echo.demo.svc.cluster.local:7000\": "
                    + "{\"endpoints\": [" + eps + "]}}}");
            Process control = startControl(procs);
            String token = Procs.joinToken(dir, controlAdmin, WEB_ID, "1h");
            for (int i = 0; i < 2; i++) {
                Map<String, String> e = Procs.proxyEnv(dir, grpcPort, WEB_ID, token, ports[4 + i]);
                e.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[2 + i]);
                e.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[6 + i]);
                Process p = procs.java("echo-proxy-" + i, Procs.PROXY, e);
                procs.awaitOk("http://127.0.0.1:" + ports[4 + i] + "/ready", "echo-proxy-" + i, p, 30);
            }
            int[] more = Procs.freePorts(2);
            Map<String, String> ce = clientEnv(more[0], ports[9], more[1]);
            ce.put("HYPHA_PROXY_OUTBOUND_TARGET", "echo.demo.svc.cluster.local:7000");
            ce.put("HYPHA_PROXY_OPAQUE_PORTS", "7000");
            Process client = procs.java("tcp-client", Procs.PROXY, ce);
            procs.awaitOk("http://" + ce.get("HYPHA_PROXY_ADMIN_LISTEN_ADDR") + "/ready", "tcp-client", client, 30);
            for (int n = 0; n < 40; n++) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", ports[9]), 2000);
                    s.setSoTimeout(10_000);
                    s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                    String got = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
                    assertTrue(got.matches("echo-[01]:hello"), "connection " + n + ": " + got + procs.log("tcp-client"));
                }
            }
            String m = Procs.body("http://"
                    + ce.get("HYPHA_PROXY_ADMIN_LISTEN_ADDR") + "/metrics");
            assertTrue(conns[0].get() >= 5 && conns[1].get() >= 5, "connections were not balanced: "
                    + conns[0].get() + " / " + conns[1].get() + "\n" + m);
            assertTrue(m.contains("hypha_tcp_connections_opened_total{direction=\"upstream\",tls=\"true\",peer=\""
                    + WEB_ID + "\"}"), m);
            Procs.stop(control);
        } finally {
            for (java.net.ServerSocket ss : echoes) {
                ss.close();
            }
        }
    }

    @Test
    void aServiceWithoutEndpointsFailsFastAndIdleTargetsAreLetGo() throws Exception {
        int[] ports = Procs.freePorts(5);
        grpcPort = ports[0];
        controlAdmin = ports[1];
        Files.writeString(dir.resolve("registry.json"),
                "{\"services\": {\"empty.demo.svc.cluster.local:80\": {\"endpoints\": []}}}");
        try (Procs procs = new Procs(dir)) {
            Process control = startControl(procs);
            Map<String, String> ce = clientEnv(ports[2], ports[3], ports[4]);
            ce.put("HYPHA_PROXY_FAIL_FAST_TIMEOUT", "700ms");
            ce.put("HYPHA_PROXY_DISCOVERY_IDLE_TIMEOUT", "1s");
            Process client = procs.java("client", Procs.PROXY, ce);
            procs.awaitOk("http://127.0.0.1:" + ports[2] + "/ready", "client", client, 30);
            long t0 = System.nanoTime();
            String r;
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", ports[3]), 2000);
                s.setSoTimeout(10_000);
                s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: empty.demo.svc.cluster.local:80\r\n"
                        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                r = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(r.startsWith("HTTP/1.1 503") && r.toLowerCase().contains("hypha-proxy-error: no_endpoints"), r);
            assertTrue(ms >= 600 && ms < 5000, "a request waits for an endpoint up to the fail-fast timeout; took " + ms);
            // nobody calls it any more: after the idle timeout the proxy stops watching it
            String metricsUrl = "http://127.0.0.1:" + controlAdmin + "/metrics";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            String open = "";
            while (System.nanoTime() < deadline) {
                open = Procs.body(metricsUrl).lines()
                        .filter(l -> l.startsWith("hypha_destination_streams_open")).findFirst().orElse("");
                if (open.endsWith(" 0.0")) {
                    break;
                }
                Thread.sleep(100);
            }
            assertTrue(open.endsWith(" 0.0"), "the idle destination stream is still open: " + open);
            Procs.stop(control);
        }
    }

    @Test
    void serviceProfileRoutesGiveRouteMetricsClassificationAndTimeouts() throws Exception {
        int[] ports = Procs.freePorts(8);
        grpcPort = ports[0];
        controlAdmin = ports[1];
        HttpServer app = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        app.createContext("/", ex -> {
            String p = ex.getRequestURI().getPath();
            if (p.startsWith("/books/slow")) {
                try {
                    Thread.sleep(1500);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
            int status = p.startsWith("/admin") ? 503 : p.startsWith("/books/missing") ? 404 : 200;
            if (p.startsWith("/flaky")) {
                status = flaky.incrementAndGet() % 2 == 0 ? 500 : 200; // every other request fails
            }
            byte[] b = "ok\n".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        app.start();
        try (Procs procs = new Procs(dir)) {
            String svc = "books.demo.svc.cluster.local:80";
            Files.writeString(dir.resolve("registry.json"), "{\"services\": {\"" + svc + "\": {\"endpoints\": [{"
                    + "\"address\": \"127.0.0.1:" + app.getAddress().getPort() + "\", \"identity\": \"" + WEB_ID
                    + "\", \"proxyPort\": " + ports[2] + "}], \"profile\": {\"routes\": ["
                    + "{\"name\": \"GET /books/{id}\", \"condition\": {\"method\": \"GET\", \"pathRegex\": \"/books/[^/]+\"},"
                    + " \"timeout\": \"400ms\", \"responseClasses\": [{\"condition\": {\"status\": {\"min\": 404,"
                    + " \"max\": 404}}, \"isFailure\": true}]},"
                    + "{\"name\": \"admin\", \"condition\": {\"pathRegex\": \"/admin.*\"}, \"responseClasses\":"
                    + " [{\"condition\": {\"status\": {\"min\": 500, \"max\": 599}}, \"isFailure\": false}]},"
                    + "{\"name\": \"flaky retried\", \"condition\": {\"pathRegex\": \"/flaky/retry\"}, \"isRetryable\": true},"
                    + "{\"name\": \"flaky\", \"condition\": {\"pathRegex\": \"/flaky/.*\"}}],"
                    + " \"retryBudget\": {\"retryRatio\": 0.6, \"minRetriesPerSecond\": 10, \"ttl\": \"10s\"}}}}}");
            Process control = startControl(procs);
            Map<String, String> se = Procs.proxyEnv(dir, grpcPort, WEB_ID, Procs.joinToken(dir, controlAdmin, WEB_ID, "1h"),
                    ports[3]);
            se.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[2]);
            se.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[4]);
            se.put("HYPHA_PROXY_DESTINATION_ADDR", "127.0.0.1:" + grpcPort); // for its inbound route metrics
            Process server = procs.java("books-proxy", Procs.PROXY, se);
            Map<String, String> ce = clientEnv(ports[5], ports[6], ports[7]);
            Process client = procs.java("books-client", Procs.PROXY, ce);
            procs.awaitOk("http://127.0.0.1:" + ports[3] + "/ready", "books-proxy", server, 30);
            procs.awaitOk("http://127.0.0.1:" + ports[5] + "/ready", "books-client", client, 30);
            // the first request opens the profile stream; wait until the route is known
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String metricsUrl = "http://127.0.0.1:" + ports[5] + "/metrics";
            while (System.nanoTime() < deadline) {
                raw(ports[6], svc, "/books/1");
                if (Procs.body(metricsUrl).contains("route=\"GET /books/{id}\"")) {
                    break;
                }
                Thread.sleep(50);
            }
            for (int i = 0; i < 5; i++) {
                assertTrue(raw(ports[6], svc, "/books/" + i).startsWith("HTTP/1.1 200"));
                assertTrue(raw(ports[6], svc, "/books/missing").startsWith("HTTP/1.1 404"));
                assertTrue(raw(ports[6], svc, "/admin/x").startsWith("HTTP/1.1 503"));
                assertTrue(raw(ports[6], svc, "/other").startsWith("HTTP/1.1 200"));
            }
            long t0 = System.nanoTime();
            String slow = raw(ports[6], svc, "/books/slow");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(slow.startsWith("HTTP/1.1 504") && slow.toLowerCase().contains("hypha-proxy-error: route_timeout"),
                    slow);
            assertTrue(ms >= 350 && ms < 1200, "the route's 400 ms timeout fired after " + ms + " ms");
            String m = Procs.body(metricsUrl);
            String a = "direction=\"outbound\",authority=\"" + svc + "\"";
            assertTrue(m.contains("hypha_route_responses_total{" + a + ",route=\"GET /books/{id}\",status_code=\"404\","
                    + "classification=\"failure\"} 5"), "404 is a failure on this route:\n" + m);
            assertTrue(m.contains("hypha_route_responses_total{" + a + ",route=\"admin\",status_code=\"503\","
                    + "classification=\"success\"} 5"), "the admin route counts 5xx as success:\n" + m);
            // (requests before the profile arrived were [DEFAULT] too)
            assertTrue(m.contains("hypha_route_responses_total{" + a + ",route=\"[DEFAULT]\",status_code=\"200\","
                    + "classification=\"success\"}"), m);
            assertTrue(m.contains("hypha_route_responses_total{" + a + ",route=\"GET /books/{id}\",status_code=\"504\","
                    + "classification=\"failure\"} 1"), m);
            assertTrue(m.contains("hypha_route_response_duration_seconds_bucket{" + a + ",route=\"admin\""), m);
            String inbound = Procs.body("http://127.0.0.1:"
                    + ports[3] + "/metrics");
            assertTrue(inbound.contains("hypha_route_responses_total{direction=\"inbound\",authority=\"" + svc
                    + "\",route=\"GET /books/{id}\",status_code=\"404\",classification=\"failure\"}"),
                    "route metrics on the server side too:\n" + inbound);

            // retries: a backend failing every other request, on a retryable route and on one that is not
            int ok = 0;
            for (int i = 0; i < 200; i++) {
                if (raw(ports[6], svc, "/flaky/retry").startsWith("HTTP/1.1 200")) {
                    ok++;
                }
            }
            assertTrue(ok >= 198, "retryable route: " + ok + " of 200 succeeded");
            int plain = 0;
            for (int i = 0; i < 200; i++) {
                if (raw(ports[6], svc, "/flaky/once").startsWith("HTTP/1.1 200")) {
                    plain++;
                }
            }
            assertTrue(plain >= 80 && plain <= 120, "without retries about half succeed: " + plain);
            String m2 = Procs.body(metricsUrl);
            long retried = m2.lines().filter(l -> l.startsWith("hypha_route_retries_total{" + a
                    + ",route=\"flaky retried\",outcome=\"retried\"}")).mapToLong(l -> Long.parseLong(
                    l.substring(l.lastIndexOf(' ') + 1))).sum();
            assertTrue(retried >= 90 && retried <= 200 * 0.6 + 100, "retries counted and inside the budget: " + retried);
            assertTrue(m2.contains("hypha_route_actual_responses_total{" + a + ",route=\"flaky retried\",status_code=\"500\","
                    + "classification=\"failure\"}"), "each failed try is counted as actual");
            assertTrue(!m2.contains("hypha_route_responses_total{" + a + ",route=\"flaky retried\",status_code=\"500\"")
                    || ok < 200, "callers saw (almost) no 500 on the retried route");
            Procs.stop(control);
        } finally {
            app.stop(0);
        }
    }

    final AtomicInteger flaky = new AtomicInteger();

    void writeSplit(int v1Port, int v2Port, String w1, String w2) throws Exception {
        Path tmp = dir.resolve("registry.tmp");
        Files.writeString(tmp, "{\"services\": {"
                + "\"web.demo.svc.cluster.local:8080\": {\"endpoints\": [], \"profile\": {\"dstOverrides\": ["
                + "{\"authority\": \"web-v1.demo.svc.cluster.local:8080\", \"weight\": \"" + w1 + "\"},"
                + "{\"authority\": \"web-v2.demo.svc.cluster.local:8080\", \"weight\": \"" + w2 + "\"}]}},"
                + "\"web-v1.demo.svc.cluster.local:8080\": {\"endpoints\": [{\"address\": \"127.0.0.1:" + v1Port + "\"}]},"
                + "\"web-v2.demo.svc.cluster.local:8080\": {\"endpoints\": [{\"address\": \"127.0.0.1:" + v2Port + "\"}]}}}");
        Files.move(tmp, dir.resolve("registry.json"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Test
    void aWeightedSplitSendsTrafficInProportionAndFollowsWeightChanges() throws Exception {
        int[] ports = Procs.freePorts(5);
        grpcPort = ports[0];
        controlAdmin = ports[1];
        AtomicInteger[] hitsBy = {new AtomicInteger(), new AtomicInteger()};
        List<HttpServer> apps = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            int v = i;
            HttpServer app = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
            app.createContext("/", ex -> {
                hitsBy[v].incrementAndGet();
                ex.sendResponseHeaders(200, -1);
                ex.close();
            });
            app.start();
            apps.add(app);
        }
        try (Procs procs = new Procs(dir)) {
            writeSplit(apps.get(0).getAddress().getPort(), apps.get(1).getAddress().getPort(), "900m", "100m");
            Process control = startControl(procs);
            Map<String, String> ce = clientEnv(ports[2], ports[3], ports[4]);
            Process client = procs.java("split-client", Procs.PROXY, ce);
            procs.awaitOk("http://127.0.0.1:" + ports[2] + "/ready", "split-client", client, 30);
            // the profile arrives with the first request; wait until both backends have been used
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline && hitsBy[1].get() == 0) {
                raw(ports[3], SVC, "/warm");
            }
            hitsBy[0].set(0);
            hitsBy[1].set(0);
            for (int i = 0; i < 2000; i++) {
                assertTrue(raw(ports[3], SVC, "/split/" + i).startsWith("HTTP/1.1 200"));
            }
            double v1 = hitsBy[0].get() / 2000.0;
            assertTrue(v1 >= 0.87 && v1 <= 0.93, "90/10 split landed " + hitsBy[0].get() + " / " + hitsBy[1].get());

            // a weight change, made while traffic flows, applies to new requests within a second, and no request fails
            AtomicBoolean run = new AtomicBoolean(true);
            AtomicInteger during = new AtomicInteger();
            AtomicInteger failedDuring = new AtomicInteger();
            Thread load = new Thread(() -> {
                while (run.get()) {
                    during.incrementAndGet();
                    if (!raw(ports[3], SVC, "/during").startsWith("HTTP/1.1 200")) {
                        failedDuring.incrementAndGet();
                    }
                }
            });
            load.start();
            Thread.sleep(300);
            writeSplit(apps.get(0).getAddress().getPort(), apps.get(1).getAddress().getPort(), "500m", "500m");
            Thread.sleep(1000);
            run.set(false);
            load.join(10_000);
            assertEquals(0, failedDuring.get(), "requests failed while the profile changed (of " + during.get() + ")");
            assertTrue(during.get() > 50, "too little traffic during the change: " + during.get());
            hitsBy[0].set(0);
            hitsBy[1].set(0);
            for (int i = 0; i < 400; i++) {
                assertTrue(raw(ports[3], SVC, "/split2/" + i).startsWith("HTTP/1.1 200"));
            }
            double half = hitsBy[0].get() / 400.0;
            assertTrue(half >= 0.40 && half <= 0.60, "50/50 after the change: " + hitsBy[0].get() + " / " + hitsBy[1].get());
            Procs.stop(control);
        } finally {
            apps.forEach(a -> a.stop(0));
        }
    }

    static String raw(int port, String host, String path) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        } catch (Exception e) {
            return "error: " + e;
        }
    }

    @Test
    void aProxyRefusesAControlPlaneThatProvesAnotherIdentity() throws Exception {
        int[] ports = Procs.freePorts(5);
        grpcPort = ports[0];
        controlAdmin = ports[1];
        writeRegistry();
        try (Procs procs = new Procs(dir)) {
            Process control = startControl(procs);
            Map<String, String> e = Procs.proxyEnv(dir, grpcPort, CLIENT_ID,
                    Procs.joinToken(dir, controlAdmin, CLIENT_ID, "1h"), ports[2]);
            e.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[3]);
            e.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[4]);
            e.put("HYPHA_PROXY_CONTROL_IDENTITY", "impostor.hypha-system.serviceaccount.identity.cluster.local");
            Process p = procs.java("wary", Procs.PROXY, e);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline && !procs.log("wary").contains("the control plane proved")) {
                Thread.sleep(50);
            }
            assertTrue(procs.log("wary").contains("the control plane proved 'hypha-control.hypha-system.serviceaccount"
                    + ".identity.cluster.local', expected 'impostor."), procs.log("wary"));
            assertEquals(503, Procs.status("http://127.0.0.1:" + ports[2] + "/ready"));
            assertTrue(p.isAlive());
            Procs.stop(control);
        }
    }

    /** A client proxy's environment: certified as CLIENT_ID, using discovery, on the given ports (0: any). */
    Map<String, String> clientEnv(int admin, int outbound, int inbound) throws Exception {
        Map<String, String> e = Procs.proxyEnv(dir, grpcPort, CLIENT_ID,
                Procs.joinToken(dir, controlAdmin, CLIENT_ID, "1h"), admin);
        e.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + outbound);
        e.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + inbound);
        e.put("HYPHA_PROXY_DESTINATION_ADDR", "127.0.0.1:" + grpcPort);
        return e;
    }

    static String get(int port, String path) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + SVC + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        } catch (Exception e) {
            return "error: " + e;
        }
    }

    static int backendOf(String response) {
        int at = response.indexOf("replica=");
        return at < 0 ? -1 : response.charAt(at + 8) - '0';
    }

    @Test
    void theLocalMeshBalancesSurvivesReplicaAndControlPlaneLossAndRenewsCertificates() throws Exception {
        assertTrue(Files.exists(Procs.CONTROL), "build the control plane first: " + Procs.CONTROL);
        assertTrue(Files.exists(Procs.PROXY), "build the proxy first: " + Procs.PROXY);
        int[] ports = Procs.freePorts(16);
        int nextPort = 0;
        grpcPort = ports[nextPort++];
        controlAdmin = ports[nextPort++];
        List<HttpServer> apps = new ArrayList<>();
        try (Procs procs = new Procs(dir)) {
            for (int i = 0; i < 3; i++) {
                int replica = i;
                HttpServer app = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
                hits.put(i, new AtomicInteger());
                app.createContext("/", ex -> {
                    hits.get(replica).incrementAndGet();
                    String who = ex.getRequestHeaders().getFirst("hypha-client-id");
                    byte[] b = ("replica=" + replica + " client=" + who + "\n").getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(200, b.length);
                    ex.getResponseBody().write(b);
                    ex.close();
                });
                app.start();
                apps.add(app);
                appPorts[i] = app.getAddress().getPort();
                proxyPorts[i] = ports[nextPort++];
                proxyAdmins[i] = ports[nextPort++];
            }
            writeRegistry(0, 1, 2);
            Process control = startControl(procs);
            String webToken = Procs.joinToken(dir, controlAdmin, WEB_ID, "1h");
            for (int i = 0; i < 3; i++) {
                Map<String, String> e = Procs.proxyEnv(dir, grpcPort, WEB_ID, webToken, proxyAdmins[i]);
                e.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + proxyPorts[i]);
                e.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[nextPort++]);
                replicas[i] = procs.java("web-" + i, Procs.PROXY, e);
            }
            int clientPort = ports[nextPort++];
            int clientAdmin = ports[nextPort++];
            Map<String, String> ce = clientEnv(clientAdmin, clientPort, ports[nextPort++]);
            Process client = procs.java("client", Procs.PROXY, ce);
            for (int i = 0; i < 3; i++) {
                procs.awaitOk("http://127.0.0.1:" + proxyAdmins[i] + "/ready", "web-" + i, replicas[i], 30);
            }
            procs.awaitOk("http://127.0.0.1:" + clientAdmin + "/ready", "client", client, 30);

            // 1. requests by service name (6 concurrent clients) spread over the three replicas, over mTLS with the
            // client's identity
            AtomicInteger next = new AtomicInteger();
            AtomicReference<String> bad = new AtomicReference<>();
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                Thread t = new Thread(() -> {
                    int n;
                    while ((n = next.getAndIncrement()) < 600) {
                        String r = get(clientPort, "/spread/" + n);
                        if (!r.startsWith("HTTP/1.1 200") || !r.contains("client=" + CLIENT_ID)) {
                            bad.compareAndSet(null, "request " + n + ": " + r);
                        }
                    }
                });
                t.start();
                workers.add(t);
            }
            for (Thread t : workers) {
                t.join(60_000);
            }
            assertEquals(null, bad.get(), procs.log("client"));
            for (int i = 0; i < 3; i++) {
                assertTrue(hits.get(i).get() >= 60, "replica " + i + " got " + hits.get(i).get() + " of 600");
            }

            // 2. one replica killed under load: at most the request in flight fails, none after
            AtomicBoolean run = new AtomicBoolean(true);
            AtomicInteger sent = new AtomicInteger();
            AtomicInteger failedAfterKill = new AtomicInteger();
            AtomicBoolean killed = new AtomicBoolean();
            AtomicReference<String> lastFailure = new AtomicReference<>();
            Thread load = new Thread(() -> {
                while (run.get()) {
                    String r = get(clientPort, "/load/" + sent.incrementAndGet());
                    if (!r.startsWith("HTTP/1.1 200") && killed.get()) {
                        failedAfterKill.incrementAndGet();
                        lastFailure.set(r);
                    }
                }
            });
            load.start();
            Thread.sleep(1000);
            killed.set(true);
            replicas[2].destroyForcibly();
            replicas[2].waitFor(10, TimeUnit.SECONDS);
            int atKill = sent.get();
            Thread.sleep(3000);
            int failuresSoon = failedAfterKill.get();
            assertTrue(failuresSoon <= 1, failuresSoon + " requests failed after the replica died (at most the one in "
                    + "flight may): " + lastFailure.get());
            assertTrue(sent.get() - atKill > 50, "load stalled after the kill");

            // 3. the control plane goes away: traffic continues on the last known endpoints
            Procs.stop(control);
            int before = sent.get();
            Thread.sleep(3000);
            assertEquals(failuresSoon, failedAfterKill.get(), "requests failed without the control plane: "
                    + lastFailure.get());
            assertTrue(sent.get() - before > 50, "load stalled without the control plane");

            // 4. it comes back: discovery resumes (the dead replica is removed, replica 1 too)
            writeRegistry(0);
            control = startControl(procs);
            int[] before0 = {hits.get(0).get(), hits.get(1).get()};
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            boolean onlyZero = false;
            while (System.nanoTime() < deadline && !onlyZero) {
                int a = hits.get(1).get();
                Thread.sleep(1000);
                onlyZero = hits.get(1).get() == a && hits.get(0).get() > before0[0];
            }
            assertTrue(onlyZero, "discovery did not resume: replica 1 still gets requests");
            // keep the load on while 10-second certificates renew a few more times
            int beforeRenewals = sent.get();
            Thread.sleep(12_000);
            assertTrue(sent.get() - beforeRenewals > 100, "load stalled during renewals");
            run.set(false);
            load.join(20_000);
            assertEquals(failuresSoon, failedAfterKill.get(), "requests failed after the control plane returned: "
                    + lastFailure.get());

            // 5. 10-second certificates were renewed again and again under load
            String metrics = Procs.body(
                    "http://127.0.0.1:" + clientAdmin + "/metrics");
            long renewals = procs.log("client").lines().filter(l -> l.contains("certified as " + CLIENT_ID)).count();
            assertTrue(renewals >= 3, "the client proxy was certified " + renewals + " times:\n" + procs.log("client"));
            assertTrue(metrics.contains("hypha_identity_cert_expiration_timestamp_seconds"), metrics);
            Procs.stop(control);
        } finally {
            for (HttpServer a : apps) {
                a.stop(0);
            }
        }
    }
}
