package dev.hypha.e2e;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.hypha.testing.FreePorts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Starts the real Hypha binaries as processes and cleans them up. */
final class Procs implements AutoCloseable {
    static final Path ROOT = Path.of(System.getProperty("hypha.root", "..")).toAbsolutePath().normalize();
    static final Path CONTROL = ROOT.resolve("control/target/quarkus-app/quarkus-run.jar");
    static final Path PROXY = ROOT.resolve("micro-proxy/target/hypha-proxy.jar");
    /** Netty's native libraries, unpacked by the build as the proxy image ships them. */
    static final Path PROXY_NATIVE = ROOT.resolve("micro-proxy/target/native/META-INF/native");
    static final Path INJECTOR = ROOT.resolve("injector-webhook/target/quarkus-app/quarkus-run.jar");
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Path dir;
    private final List<Process> started = new ArrayList<>();

    Procs(Path dir) {
        this.dir = dir;
    }

    /**
     * Distinct free ports below the kernel's ephemeral range ({@link FreePorts#distinct}): every listener a test
     * names in a process's configuration gets one of these, so that nothing bound to port 0 meanwhile (an app in the
     * test, the local end of a connection) can take it first.
     */
    static int[] freePorts(int n) {
        return FreePorts.distinct(n);
    }

    Process java(String name, Path jar, Map<String, String> env) throws IOException {
        return java(name, jar, env, List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    }

    /** A {@code java -jar} process with these JVM flags (e.g. a Deployment's, for a benchmark). */
    Process java(String name, Path jar, Map<String, String> env, List<String> jvmFlags) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java));
        cmd.addAll(jvmFlags);
        if (jar.equals(PROXY)) {
            cmd.add("-Djava.library.path=" + PROXY_NATIVE); // as the proxy image loads them
        }
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar",
                jar.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("HYPHA_") || k.startsWith("QUARKUS_"));
        pb.environment().putAll(env);
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()));
        Process p = pb.start();
        started.add(p);
        return p;
    }

    String log(String name) throws IOException {
        Path f = dir.resolve(name + ".log");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    static int status(String url) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return 0;
        }
    }

    /** GET {@code url}; the body (for admin endpoints such as /metrics). */
    static String body(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /** Polls {@code url} until it answers 200, or fails with the process's log. */
    void awaitOk(String url, String name, Process p, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (status(url) == 200) {
                return;
            }
            if (!p.isAlive()) {
                throw new AssertionError(name + " exited with " + p.exitValue() + ":\n" + log(name));
            }
            Thread.sleep(50);
        }
        throw new AssertionError(name + " not ready at " + url + " after " + seconds + " s:\n" + log(name));
    }

    static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /**
     * Starts hypha-control in local mode on loopback (gRPC on {@code grpc}, admin on {@code admin}; trust anchor,
     * issuer and local token in {@code dir/state}; registry {@code dir/registry.json}) with {@code extra} settings,
     * and waits until it is ready.
     */
    Process localControl(int grpc, int admin, Map<String, String> extra) throws Exception {
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                "QUARKUS_HTTP_PORT", Integer.toString(admin), "QUARKUS_HTTP_HOST", "127.0.0.1",
                "QUARKUS_GRPC_SERVER_PORT", Integer.toString(grpc), "QUARKUS_GRPC_SERVER_HOST", "127.0.0.1",
                "HYPHA_CONTROL_STATE_DIR", dir.resolve("state").toString(),
                "HYPHA_CONTROL_REGISTRY_FILE", dir.resolve("registry.json").toString()));
        env.putAll(extra);
        Process p = java("control", CONTROL, env);
        awaitOk("http://127.0.0.1:" + admin + "/ready", "control", p, 60);
        return p;
    }

    /**
     * The environment of a meshed workload's proxy in local mode: certified with a fresh join token for
     * {@code identity}, listening on {@code ports} = {inbound, outbound, admin, tap}, discovery from the control plane.
     */
    Map<String, String> meshedProxyEnv(int grpc, int controlAdmin, String identity, int[] ports) throws Exception {
        Map<String, String> e = proxyEnv(dir, grpc, identity, joinToken(dir, controlAdmin, identity, "24h"), ports[2]);
        e.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[0]);
        e.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:" + ports[1]);
        e.put("HYPHA_PROXY_TAP_LISTEN_ADDR", "127.0.0.1:" + ports[3]);
        e.put("HYPHA_PROXY_DESTINATION_ADDR", "127.0.0.1:" + grpc);
        return e;
    }

    /**
     * The environment of a proxy that certifies itself with {@code tokenFile} at the control plane on {@code grpc}.
     * Its tap listener gets a port found free now, never port 0: a listener on an ephemeral port could take a port
     * that {@link #freePorts} handed to a process that has not bound it yet.
     */
    static Map<String, String> proxyEnv(Path dir, int grpc, String identity, String tokenFile, int admin)
            throws IOException {
        Map<String, String> e = new java.util.HashMap<>();
        e.put("HYPHA_PROXY_MODE", "explicit");
        e.put("HYPHA_PROXY_ADMIN_LISTEN_ADDR", "127.0.0.1:" + admin);
        e.put("HYPHA_PROXY_TAP_LISTEN_ADDR", "127.0.0.1:" + freePorts(1)[0]);
        e.put("HYPHA_PROXY_IDENTITY_ADDR", "127.0.0.1:" + grpc);
        e.put("HYPHA_PROXY_IDENTITY_NAME", identity);
        e.put("HYPHA_PROXY_IDENTITY_TOKEN_FILE", tokenFile);
        e.put("HYPHA_PROXY_TRUST_ANCHORS_FILE", dir.resolve("state/root.crt").toString());
        e.put("HYPHA_PROXY_SHUTDOWN_GRACE", "1s");
        return e;
    }

    /** Mints a join token for {@code identity} at the control plane's admin port; returns the file it is in. */
    static String joinToken(Path dir, int admin, String identity, String ttl) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin
                + "/join-tokens?identity=" + identity + "&ttl=" + ttl)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new AssertionError("minting a join token failed: " + r.statusCode() + " " + r.body());
        }
        Path f = dir.resolve(identity + ".token");
        Files.writeString(f, r.body().trim());
        return f.toString();
    }

    static final Path CLI = ROOT.resolve("cli/target/hypha-cli.jar");

    /** The CLI's output (stderr included) and exit code. */
    record CliRun(int code, String out) {
    }

    /** Runs {@code hypha <args>} as a user would, with the local context {@code context}. */
    static CliRun cli(Path context, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", CLI.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("HYPHA_LOCAL_CONTEXT", context.toString());
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("hypha " + String.join(" ", args) + " did not end in 60 s:\n" + text);
        }
        return new CliRun(p.exitValue(), text);
    }

    /** SIGTERM to every process (they drain and exit), then SIGKILL to any still running after 10 s. */
    void stopGracefully() throws InterruptedException {
        for (Process p : started) {
            p.destroy();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Process p : started) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !p.waitFor(left, TimeUnit.NANOSECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    @Override
    public void close() throws Exception {
        for (Process p : started) {
            p.destroyForcibly();
        }
        for (Process p : started) {
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
