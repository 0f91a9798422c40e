package dev.hypha.e2e;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code ./hypha demo}: the mesh's main job on one machine, with no cluster. Starts hypha-control in local mode
 * (it makes its own CA), three replicas of a small "web" app each behind a hypha-proxy that certifies itself with a
 * join token, and a client proxy that finds the replicas through discovery; sends traffic through the mesh and
 * shows what each replica saw and what the proxies measured. {@code --wait} keeps it running.
 */
public final class Demo {
    private Demo() {
    }

    public static void main(String[] args) throws Exception {
        // the demo's client names the service in the Host header, as an app in explicit mode does
        System.setProperty("jdk.httpclient.allowRestrictedHeaders", "host");
        boolean wait = args.length > 0 && args[0].equals("--wait");
        Path dir = Files.createTempDirectory("hypha-demo");
        int[] ports = Procs.freePorts(16);
        int k = 0;
        int grpc = ports[k++];
        int admin = ports[k++];
        String svc = "web.demo.svc.cluster.local:8080";
        String webId = "web.demo.serviceaccount.identity.cluster.local";
        String clientId = "client.demo.serviceaccount.identity.cluster.local";
        List<HttpServer> apps = new ArrayList<>();
        Map<Integer, AtomicInteger> hits = new HashMap<>();
        try (Procs procs = new Procs(dir)) {
            StringBuilder eps = new StringBuilder();
            int[] proxyPorts = new int[3];
            int[] proxyAdmin = new int[3];
            for (int i = 0; i < 3; i++) {
                int replica = i;
                HttpServer app = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
                hits.put(i, new AtomicInteger());
                app.createContext("/", ex -> {
                    hits.get(replica).incrementAndGet();
                    byte[] b = ("hello from web-" + replica + "; you are " + ex.getRequestHeaders().getFirst("hypha-client-id")
                            + "\n").getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(ex.getRequestURI().getPath().startsWith("/fail") ? 500 : 200, b.length);
                    ex.getResponseBody().write(b);
                    ex.close();
                });
                app.start();
                apps.add(app);
                proxyPorts[i] = ports[k++];
                proxyAdmin[i] = ports[k++];
                eps.append(i == 0 ? "" : ",").append("{\"address\": \"127.0.0.1:").append(app.getAddress().getPort())
                        .append("\", \"identity\": \"").append(webId).append("\", \"proxyPort\": ").append(proxyPorts[i])
                        .append(", \"labels\": {\"pod\": \"web-").append(i).append("\"}}");
            }
            Files.writeString(dir.resolve("registry.json"), "{\"services\": {\"" + svc + "\": {\"endpoints\": [" + eps + "]}}}");
            System.out.println("hypha demo — the mesh on this machine (files and logs in " + dir + ")\n");
            Process control = procs.java("control", Procs.CONTROL, Map.of(
                    "QUARKUS_HTTP_PORT", Integer.toString(admin), "QUARKUS_HTTP_HOST", "127.0.0.1",
                    "QUARKUS_GRPC_SERVER_PORT", Integer.toString(grpc), "QUARKUS_GRPC_SERVER_HOST", "127.0.0.1",
                    "HYPHA_CONTROL_STATE_DIR", dir.resolve("state").toString(),
                    "HYPHA_CONTROL_REGISTRY_FILE", dir.resolve("registry.json").toString()));
            procs.awaitOk("http://127.0.0.1:" + admin + "/metrics", "control", control, 60);
            System.out.println("  control plane   gRPC over TLS 127.0.0.1:" + grpc + ", admin 127.0.0.1:" + admin
                    + " (made a trust anchor and issuer in " + dir.resolve("state") + ")");
            String webToken = Procs.joinToken(dir, admin, webId, "24h");
            List<Process> replicas = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Map<String, String> e = Procs.proxyEnv(dir, grpc, webId, webToken, proxyAdmin[i]);
                e.put("HYPHA_PROXY_LOG_LEVEL", "warn");
                e.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + proxyPorts[i]);
                e.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[k++]);
                replicas.add(procs.java("web-" + i, Procs.PROXY, e));
            }
            int out = ports[k++];
            int clientAdmin = ports[k++];
            Map<String, String> ce = Procs.proxyEnv(dir, grpc, clientId, Procs.joinToken(dir, admin, clientId, "24h"),
                    clientAdmin);
            ce.put("HYPHA_PROXY_LOG_LEVEL", "warn");
            ce.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + out);
            ce.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[k++]);
            ce.put("HYPHA_PROXY_DESTINATION_ADDR", "127.0.0.1:" + grpc);
            Process client = procs.java("client", Procs.PROXY, ce);
            for (int i = 0; i < 3; i++) {
                procs.awaitOk("http://127.0.0.1:" + proxyAdmin[i] + "/ready", "web-" + i, replicas.get(i), 30);
                System.out.println("  web-" + i + "           app 127.0.0.1:" + apps.get(i).getAddress().getPort()
                        + " behind proxy 127.0.0.1:" + proxyPorts[i] + ", certified as " + webId);
            }
            procs.awaitOk("http://127.0.0.1:" + clientAdmin + "/ready", "client", client, 30);
            System.out.println("  client proxy    127.0.0.1:" + out + ", certified as " + clientId + "\n");

            System.out.println("sending 300 requests to http://" + svc + "/ from 4 concurrent clients through the client "
                    + "proxy (discovery → P2C/EWMA → mTLS → replica's proxy → app), 30 of them to /fail ...");
            AtomicInteger okCount = new AtomicInteger();
            AtomicInteger next = new AtomicInteger();
            String[] sampleRef = {""};
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                Thread t = new Thread(() -> {
                    int n;
                    while ((n = next.getAndIncrement()) < 300) {
                        String path = n % 10 == 9 ? "/fail/" + n : "/hello/" + n;
                        try {
                            HttpResponse<String> r = Procs.HTTP.send(HttpRequest.newBuilder(URI.create(
                                    "http://127.0.0.1:" + out + path)).header("Host", svc).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() == 200) {
                                okCount.incrementAndGet();
                                sampleRef[0] = r.body().trim();
                            }
                        } catch (Exception e) {
                            // counted as not OK
                        }
                    }
                });
                t.start();
                clients.add(t);
            }
            for (Thread t : clients) {
                t.join();
            }
            int ok = okCount.get();
            String sample = sampleRef[0];
            System.out.println("  200 OK: " + ok + ", 500 (app errors, on purpose): " + (300 - ok));
            System.out.println("  the app says: \"" + sample + "\"");
            for (int i = 0; i < 3; i++) {
                System.out.println("  web-" + i + " served " + hits.get(i).get());
            }
            System.out.println("\nwhat the client proxy measured (its /metrics, excerpt):");
            String m = Procs.body("http://127.0.0.1:" + clientAdmin + "/metrics");
            m.lines().filter(l -> l.startsWith("hypha_http_responses_total")).forEach(l -> System.out.println("  " + l));
            System.out.println("\nwhat replica web-0's proxy measured:");
            String m0 = Procs.body("http://127.0.0.1:" + proxyAdmin[0] + "/metrics");
            m0.lines().filter(l -> l.startsWith("hypha_http_responses_total")).forEach(l -> System.out.println("  " + l));
            if (wait) {
                System.out.println("\nrunning; try:\n  curl -H 'Host: " + svc + "' http://127.0.0.1:" + out + "/hi\n"
                        + "  curl http://127.0.0.1:" + clientAdmin + "/metrics\n(Ctrl-C stops everything)");
                Thread.currentThread().join();
            }
            System.out.println("\n(routes, stat, edges and tap from the CLI come with the visibility issue)");
        } finally {
            for (HttpServer a : apps) {
                a.stop(0);
            }
        }
    }
}
