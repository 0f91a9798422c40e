package dev.hypha.e2e;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ./hypha demo}: the mesh's main job on one machine, with no cluster. Starts hypha-control in local mode (it
 * makes its own trust anchor and issuer), a small bookshop — {@code web} calling {@code books} and {@code authors}
 * — each app behind its own hypha-proxy (certified with a join token, mTLS between them), a meshed traffic
 * generator, and ServiceProfiles that describe the routes; one route fails {@value #FAIL_EVERY_NTH}-th of the time
 * and one is slow ({@value #SLOW_MS} ms), on purpose. Then it shows {@code hypha stat}, {@code routes},
 * {@code edges} and a {@code tap} sample — the real CLI, through the control plane — and checks that the tables
 * agree with what it generated. {@code --duration 30s} runs that long and exits (0 when the tables agree);
 * without it, it refreshes the tables every 10 s until Ctrl-C. Every process and port is released at the end.
 */
public final class Demo {
    static final String NS = "demo";
    static final String DOMAIN = "svc.cluster.local";
    /** books' GET /books/{id} answers 500 to every 5th request: a 20 % failure rate, exactly. */
    static final int FAIL_EVERY_NTH = 5;
    /** authors' GET /authors/{id} takes this long. */
    static final int SLOW_MS = 180;
    /** Requests per second the traffic generator sends to web. */
    static final int RPS = 12;
    static final String[] WORKLOADS = {"traffic", "web", "books", "authors"};

    private final PrintStream out;
    private final Path dir;
    private final Path context;
    private final List<HttpServer> apps = new ArrayList<>();
    private final List<ExecutorService> pools = new ArrayList<>();
    private final Map<String, Integer> appPorts = new LinkedHashMap<>();
    private final Map<String, int[]> proxyPorts = new LinkedHashMap<>(); // in, out, admin, tap
    private final AtomicLong bookRequests = new AtomicLong();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong answered = new AtomicLong();
    private HttpClient http;

    Demo(PrintStream out, Path dir, Path context) {
        this.out = out;
        this.dir = dir;
        this.context = context;
    }

    public static void main(String[] args) throws Exception {
        Duration duration = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--duration") && i + 1 < args.length) {
                duration = parse(args[++i]);
            } else if (args[i].startsWith("--duration=")) {
                duration = parse(args[i].substring(11));
            } else if (args[i].equals("-h") || args[i].equals("--help")) {
                System.out.println("usage: ./hypha demo [--duration 30s]\n  runs the mesh on this machine; with "
                        + "--duration it prints the final tables and exits (0 when they agree with the generated "
                        + "traffic), without it it runs until Ctrl-C");
                return;
            } else {
                System.err.println("hypha demo: unknown argument '" + args[i] + "' (expected --duration <d>, e.g. 30s)");
                System.exit(2);
            }
        }
        // the apps name the service in the Host header, as an app in explicit mode does
        System.setProperty("jdk.httpclient.allowRestrictedHeaders", "host");
        Path dir = Files.createTempDirectory("hypha-demo");
        String ctxEnv = System.getenv("HYPHA_LOCAL_CONTEXT");
        Path context = ctxEnv != null && !ctxEnv.isBlank() ? Path.of(ctxEnv)
                : Path.of(System.getProperty("user.home"), ".hypha", "local.json");
        Demo demo = new Demo(System.out, dir, context);
        int rc = demo.run(duration);
        System.exit(rc);
    }

    static Duration parse(String d) {
        Matcher m = Pattern.compile("(\\d+)(s|m)").matcher(d);
        if (!m.matches() || Integer.parseInt(m.group(1)) == 0) {
            System.err.println("hypha demo: --duration " + d + " is not valid: e.g. 20s, 2m");
            System.exit(2);
        }
        int n = Integer.parseInt(m.group(1));
        return m.group(2).equals("m") ? Duration.ofMinutes(n) : Duration.ofSeconds(n);
    }

    static String svc(String name) {
        return name + "." + NS + "." + DOMAIN + ":8080";
    }

    static String identity(String name) {
        return name + "." + NS + ".serviceaccount.identity.cluster.local";
    }

    int run(Duration duration) throws Exception {
        Procs procs = new Procs(dir);
        ScheduledExecutorService traffic = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "demo-traffic");
            t.setDaemon(true);
            return t;
        });
        Thread cleanup = new Thread(() -> stopAll(procs, traffic), "demo-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2))
                    .executor(pool(8)).build();
            int[] ports = Procs.freePorts(2 + 4 * WORKLOADS.length);
            int grpc = ports[0];
            int admin = ports[1];
            for (int i = 0; i < WORKLOADS.length; i++) {
                proxyPorts.put(WORKLOADS[i], new int[] {ports[2 + 4 * i], ports[3 + 4 * i], ports[4 + 4 * i],
                    ports[5 + 4 * i]});
            }
            startApps();
            Files.writeString(dir.resolve("registry.json"), registry());
            out.println("hypha demo — the mesh on this machine (logs and files in " + dir + ")\n");
            procs.localControl(grpc, admin, Map.of());
            out.println("  control plane   hypha-control, local mode: gRPC (TLS) 127.0.0.1:" + grpc + ", admin 127.0.0.1:"
                    + admin + "; made its own trust anchor and issuer");
            List<Process> proxies = new ArrayList<>();
            for (String w : WORKLOADS) {
                Map<String, String> e = procs.meshedProxyEnv(grpc, admin, identity(w), proxyPorts.get(w));
                e.put("HYPHA_PROXY_LOG_LEVEL", "warn");
                proxies.add(procs.java("proxy-" + w, Procs.PROXY, e));
            }
            for (int i = 0; i < WORKLOADS.length; i++) {
                String w = WORKLOADS[i];
                int[] p = proxyPorts.get(w);
                procs.awaitOk("http://127.0.0.1:" + p[2] + "/ready", "proxy-" + w, proxies.get(i), 60);
                out.printf("  %-15s %s; its hypha-proxy: inbound %d, outbound %d, admin %d, tap %d (mTLS as %s)%n", w,
                        w.equals("traffic") ? "sends " + RPS + " requests/s to web" : "app 127.0.0.1:" + appPorts.get(w),
                        p[0], p[1], p[2], p[3], identity(w));
            }
            writeContext(grpc);
            out.println("\nServiceProfiles (in the registry, " + dir.resolve("registry.json") + "):");
            out.println("  web      GET /, GET /books/{id}, GET /authors/{id}");
            out.println("  books    GET /books, GET /books/{id}  — fails every " + FAIL_EVERY_NTH
                    + "th request on purpose (20 %)");
            out.println("  authors  GET /authors, GET /authors/{id}  — takes " + SLOW_MS + " ms on purpose");
            traffic.scheduleAtFixedRate(this::sendOne, 0, 1000 / RPS, TimeUnit.MILLISECONDS);
            out.println("\ntraffic flowing: traffic → web → books, authors; every hop mTLS between proxies.");
            out.println("Try, in another terminal (the demo wrote " + context + "):");
            out.println("  ./hypha stat deploy -n demo --local");
            out.println("  ./hypha routes deploy/web -n demo --local --to svc/books");
            out.println("  ./hypha edges deploy -n demo --local -o wide");
            out.println("  ./hypha tap deploy/web -n demo --local --path /books");
            out.println("  ./hypha top deploy/web -n demo --local\n");

            long start = System.nanoTime();
            if (duration == null) {
                Thread.sleep(5000);
                showTap();
                while (true) {
                    Thread.sleep(10_000);
                    showTables();
                    check(false);
                    out.println("(refreshing every 10 s; Ctrl-C stops everything)\n");
                }
            }
            long tapAt = start + duration.toNanos() / 3;
            sleepUntil(tapAt);
            showTap();
            sleepUntil(start + duration.toNanos());
            traffic.shutdownNow();
            Thread.sleep(300); // let the last answers arrive
            out.println("\nafter " + duration.toSeconds() + " s: " + sent.get() + " requests sent by traffic, "
                    + answered.get() + " answered\n");
            showTables();
            return check(true) ? 0 : 1;
        } finally {
            stopAll(procs, traffic);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException e) {
                // already shutting down: the hook does the same
            }
        }
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left = nanos - System.nanoTime();
        if (left > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    private ExecutorService pool(int n) {
        ExecutorService p = Executors.newFixedThreadPool(n, r -> {
            Thread t = new Thread(r, "demo-app");
            t.setDaemon(true);
            return t;
        });
        pools.add(p);
        return p;
    }

    // ---- the apps ----

    private void startApps() throws IOException {
        HttpServer books = server("books");
        books.createContext("/books", ex -> {
            String path = ex.getRequestURI().getPath();
            if (path.equals("/books")) {
                reply(ex, 200, "[\"Dune\", \"Solaris\", \"Ubik\"]");
            } else if (bookRequests.incrementAndGet() % FAIL_EVERY_NTH == 0) {
                reply(ex, 500, "books is failing this one on purpose");
            } else {
                reply(ex, 200, "{\"id\": \"" + path.substring(7) + "\", \"title\": \"Dune\"}");
            }
        });
        HttpServer authors = server("authors");
        authors.createContext("/authors", ex -> {
            if (!ex.getRequestURI().getPath().equals("/authors")) {
                try {
                    Thread.sleep(SLOW_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            reply(ex, 200, "{\"name\": \"Frank Herbert\"}");
        });
        HttpServer web = server("web");
        web.createContext("/", ex -> {
            String path = ex.getRequestURI().getPath();
            try {
                if (path.startsWith("/books/")) {
                    HttpResponse<String> r = call("web", "books", path);
                    reply(ex, r.statusCode() >= 500 ? 502 : r.statusCode(), r.body());
                } else if (path.startsWith("/authors/")) {
                    HttpResponse<String> r = call("web", "authors", path);
                    reply(ex, r.statusCode(), r.body());
                } else {
                    HttpResponse<String> b = call("web", "books", "/books");
                    HttpResponse<String> a = call("web", "authors", "/authors");
                    reply(ex, 200, "books: " + b.body() + "\nauthors: " + a.body() + "\nyou are "
                            + ex.getRequestHeaders().getFirst("hypha-client-id") + "\n");
                }
            } catch (Exception e) {
                reply(ex, 503, "web could not call its backends: " + e.getMessage());
            }
        });
    }

    private HttpServer server(String name) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
        s.setExecutor(pool(16));
        s.start();
        apps.add(s);
        appPorts.put(name, s.getAddress().getPort());
        return s;
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
        ex.close();
    }

    /** An app's request to another service, through its own proxy's outbound listener (explicit mode). */
    private HttpResponse<String> call(String from, String to, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxyPorts.get(from)[1] + path))
                .header("Host", svc(to)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private void sendOne() {
        long n = sent.incrementAndGet();
        String path = switch ((int) (n % 3)) {
            case 0 -> "/books/" + n;
            case 1 -> "/authors/" + n;
            default -> "/";
        };
        http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxyPorts.get("traffic")[1] + path))
                .header("Host", svc("web")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding())
                .whenComplete((r, e) -> {
                    if (r != null) {
                        answered.incrementAndGet();
                    }
                });
    }

    // ---- the registry: services, profiles, workloads ----

    private String registry() {
        StringBuilder services = new StringBuilder();
        Map<String, String> profiles = Map.of(
                "web", "[" + route("GET /", "GET", "/") + ", " + route("GET /books/{id}", "GET", "/books/[^/]+") + ", "
                        + route("GET /authors/{id}", "GET", "/authors/[^/]+") + "]",
                "books", "[" + route("GET /books", "GET", "/books") + ", " + route("GET /books/{id}", "GET",
                        "/books/[^/]+") + "]",
                "authors", "[" + route("GET /authors", "GET", "/authors") + ", " + route("GET /authors/{id}", "GET",
                        "/authors/[^/]+") + "]");
        for (String w : List.of("web", "books", "authors")) {
            services.append(services.length() == 0 ? "" : ",\n").append("    \"").append(svc(w))
                    .append("\": {\"endpoints\": [{\"address\": \"127.0.0.1:").append(appPorts.get(w))
                    .append("\", \"identity\": \"").append(identity(w)).append("\", \"proxyPort\": ")
                    .append(proxyPorts.get(w)[0]).append(", \"labels\": {\"pod\": \"").append(w)
                    .append("-0\", \"namespace\": \"").append(NS).append("\", \"owner_kind\": \"deployment\", ")
                    .append("\"owner_name\": \"").append(w).append("\"}}],\n      \"profile\": {\"routes\": ")
                    .append(profiles.get(w)).append("}}");
        }
        StringBuilder workloads = new StringBuilder();
        for (String w : WORKLOADS) {
            workloads.append(workloads.length() == 0 ? "" : ",\n").append("    {\"namespace\": \"").append(NS)
                    .append("\", \"kind\": \"deployment\", \"name\": \"").append(w).append("\", \"pod\": \"").append(w)
                    .append("-0\", \"identity\": \"").append(identity(w)).append("\", \"tapAddress\": \"127.0.0.1:")
                    .append(proxyPorts.get(w)[3]).append("\", \"addresses\": [")
                    .append(appPorts.containsKey(w) ? "\"127.0.0.1:" + appPorts.get(w) + "\"" : "").append("]}");
        }
        return "{\"services\": {\n" + services + "},\n  \"workloads\": [\n" + workloads + "]}\n";
    }

    private static String route(String name, String method, String regex) {
        return "{\"name\": \"" + name + "\", \"condition\": {\"all\": [{\"method\": \"" + method
                + "\"}, {\"pathRegex\": \"" + regex + "\"}]}}";
    }

    /** The context the CLI's --local reads: where the control plane is, how to trust it, the local token. */
    private void writeContext(int grpc) throws Exception {
        writeContext(context, dir.resolve("state"), grpc);
    }

    /** Writes a local context for the control plane on {@code grpc} whose state directory is {@code state}. */
    static void writeContext(Path context, Path state, int grpc) throws Exception {
        Path token = state.resolve("cli-token");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Files.exists(token) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        String anchors = Files.readString(state.resolve("root.crt"));
        Files.createDirectories(context.toAbsolutePath().getParent());
        Files.writeString(context, "{\"controlAddress\": \"127.0.0.1:" + grpc + "\",\n \"controlIdentity\": "
                + "\"hypha-control.hypha-system.serviceaccount.identity.cluster.local\",\n \"trustAnchors\": \""
                + anchors.replace("\n", "\\n") + "\",\n \"tokenFile\": \"" + token + "\",\n \"demoPid\": "
                + ProcessHandle.current().pid() + "}\n");
    }

    // ---- showing it, with the real CLI ----

    /** Runs {@code hypha <args> --local} as a user would; returns its output (stderr included). */
    String cli(String... args) throws Exception {
        String[] all = java.util.Arrays.copyOf(args, args.length + 1);
        all[args.length] = "--local";
        return Procs.cli(context, all).out();
    }

    private String lastStat = "";
    private String lastBooks = "";
    private String lastAuthors = "";

    private void showTables() throws Exception {
        lastStat = show("stat deploy -n demo", "stat", "deploy", "-n", NS);
        lastBooks = show("routes deploy/web -n demo --to svc/books", "routes", "deploy/web", "-n", NS, "--to",
                "svc/books");
        lastAuthors = show("routes deploy/web -n demo --to svc/authors", "routes", "deploy/web", "-n", NS, "--to",
                "svc/authors");
        show("edges deploy -n demo -o wide", "edges", "deploy", "-n", NS, "-o", "wide");
    }

    private String show(String title, String... args) throws Exception {
        String t = cli(args);
        out.println("$ hypha " + title + " --local");
        out.println(t);
        return t;
    }

    private void showTap() throws Exception {
        String t = cli("tap", "deploy/web", "-n", NS, "--path", "/books", "--max-rps", "2", "--duration", "3s");
        out.println("$ hypha tap deploy/web -n demo --path /books --max-rps 2 --local   (3 s sample)");
        List<String> lines = t.lines().toList();
        List<String> events = lines.stream().filter(l -> l.startsWith("req ") || l.startsWith("rsp ")
                || l.startsWith("end ")).limit(9).toList();
        (events.isEmpty() ? lines : events).forEach(out::println);
        out.println();
    }

    /** One row of a table printed by the CLI, split into columns; null when absent. */
    static String[] row(String table, String first) {
        for (String l : table.split("\n")) {
            String[] c = l.trim().split("\\s{2,}");
            if (c.length > 1 && c[0].equals(first)) {
                return c;
            }
        }
        return null;
    }

    /**
     * Whether the tables agree with what the demo generates: books' GET /books/{id} within 5 points of 80 %
     * success, authors' GET /authors/{id} p50 at the histogram bucket holding SLOW_MS (its upper bound, 200 ms),
     * every meshed deployment's success and rate shown.
     */
    boolean check(boolean print) {
        List<String> problems = new ArrayList<>();
        String[] failing = row(lastBooks, "GET /books/{id}");
        double expected = 100.0 * (FAIL_EVERY_NTH - 1) / FAIL_EVERY_NTH;
        if (failing == null || !failing[2].endsWith("%")) {
            problems.add("routes --to svc/books shows no GET /books/{id} row with a success rate");
        } else {
            double got = Double.parseDouble(failing[2].replace("%", ""));
            if (Math.abs(got - expected) > 5) {
                problems.add("GET /books/{id} success " + got + " % is not within 5 points of " + expected + " %");
            } else if (print) {
                out.printf("✓ books GET /books/{id}: configured to fail 1 in %d (%.0f %% success), measured %s%n",
                        FAIL_EVERY_NTH, expected, failing[2]);
            }
        }
        String[] slow = row(lastAuthors, "GET /authors/{id}");
        if (slow == null || slow.length < 5 || !slow[4].endsWith("ms")) {
            problems.add("routes --to svc/authors shows no GET /authors/{id} row with a latency");
        } else {
            long p50 = Long.parseLong(slow[4].replace("ms", ""));
            if (p50 < SLOW_MS || p50 > 200) {
                problems.add("GET /authors/{id} p50 " + p50 + " ms is not the bucket holding " + SLOW_MS + " ms "
                        + "(upper bound 200 ms)");
            } else if (print) {
                out.printf("✓ authors GET /authors/{id}: configured to take %d ms, measured p50 %s (histogram "
                        + "bucket bound)%n", SLOW_MS, slow[4]);
            }
        }
        for (String w : List.of("web", "books", "authors")) {
            String[] r = row(lastStat, w);
            if (r == null || !r[1].equals("1/1") || !r[2].endsWith("%")) {
                problems.add("stat shows no meshed " + w + " with a success rate");
            }
        }
        if (print || !problems.isEmpty()) {
            for (String p : problems) {
                out.println("✗ " + p);
            }
        }
        return problems.isEmpty();
    }

    /** Stops the traffic, the apps and every process, and removes the context file. */
    private synchronized void stopAll(Procs procs, ScheduledExecutorService traffic) {
        traffic.shutdownNow();
        try {
            procs.stopGracefully();
        } catch (Exception e) {
            out.println("stopping: " + e);
        }
        for (HttpServer a : apps) {
            a.stop(0);
        }
        apps.clear();
        for (ExecutorService p : pools) {
            p.shutdownNow();
        }
        try {
            if (Files.exists(context) && Files.readString(context).contains("\"demoPid\": "
                    + ProcessHandle.current().pid())) {
                Files.delete(context);
            }
        } catch (IOException e) {
            out.println("could not remove " + context + ": " + e.getMessage());
        }
    }
}
