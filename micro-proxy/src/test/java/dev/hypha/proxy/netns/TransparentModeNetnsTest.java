package dev.hypha.proxy.netns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.hypha.proxy.init.IptablesRules;
import dev.hypha.proxy.testing.Cmd;
import dev.hypha.proxy.testing.Mesh;
import dev.hypha.proxy.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two network namespaces as two pods joined by a veth pair, each with a proxy in transparent mode and the iptables
 * rules hypha-init writes ({@link IptablesRules}). App A (curl, as an unprivileged user) calls app B by IP:port in
 * plain HTTP; iptables sends it through proxy A, over mTLS to proxy B (redirected again), and app B sees A's
 * identity. Needs root, ip and iptables; skipped with the reason otherwise (CI runs as root).
 */
class TransparentModeNetnsTest {
    @TempDir
    Path dir;
    private final String suffix = Long.toString(ProcessHandle.current().pid() % 100000, 36);
    private final String nsA = "hyA" + suffix;
    private final String nsB = "hyB" + suffix;
    private final int net = 200 + (int) (ProcessHandle.current().pid() % 50);
    private final String ipA = "10.231." + net + ".1";
    private final String ipB = "10.231." + net + ".2";
    private final List<Process> procs = new ArrayList<>();

    static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    @AfterEach
    void cleanup() throws Exception {
        for (Process p : procs) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        Cmd.run(10, "ip", "netns", "del", nsA);
        Cmd.run(10, "ip", "netns", "del", nsB);
    }

    private void sh(String... cmd) throws Exception {
        Cmd.Result r = Cmd.run(20, cmd);
        if (r.exit() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed: " + r.err() + r.out());
        }
    }

    private void ns(String ns, String... cmd) throws Exception {
        List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        c.addAll(List.of(cmd));
        sh(c.toArray(String[]::new));
    }

    private Process java(String ns, Map<String, String> env, Path log, String main, String... args) throws Exception {
        List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", ns,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), main));
        c.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(c).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("HYPHA_"));
        pb.environment().putAll(env);
        Process p = pb.start();
        procs.add(p);
        return p;
    }

    private static Map<String, String> proxyEnv(TestPki.Identity id, String destinations) {
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                "HYPHA_PROXY_MODE", "transparent",
                "HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:4140",
                "HYPHA_PROXY_INBOUND_LISTEN_ADDR", "0.0.0.0:4143",
                "HYPHA_PROXY_ADMIN_LISTEN_ADDR", "127.0.0.1:4191",
                "HYPHA_PROXY_IDENTITY_CERT_FILE", id.cert().toString(),
                "HYPHA_PROXY_IDENTITY_KEY_FILE", id.key().toString(),
                "HYPHA_PROXY_TRUST_ANCHORS_FILE", id.anchors().toString(),
                "HYPHA_PROXY_SHUTDOWN_GRACE", "1s"));
        if (destinations != null) {
            env.put("HYPHA_PROXY_DESTINATIONS", destinations);
        }
        return env;
    }

    @Test
    void plainHttpBetweenTwoPodsIsCarriedOverMtlsByIptablesAlone() throws Exception {
        assumeTrue(root(), "needs root to create network namespaces");
        assumeTrue(Cmd.available("ip") && Cmd.available("iptables"), "needs ip and iptables");
        assumeTrue(Cmd.available("curl") && Cmd.available("setpriv"), "needs curl and setpriv");
        Cmd.run(10, "ip", "netns", "del", nsA);
        Cmd.run(10, "ip", "netns", "del", nsB);
        sh("ip", "netns", "add", nsA);
        sh("ip", "netns", "add", nsB);
        sh("ip", "link", "add", "v" + nsA, "type", "veth", "peer", "name", "v" + nsB);
        sh("ip", "link", "set", "v" + nsA, "netns", nsA);
        sh("ip", "link", "set", "v" + nsB, "netns", nsB);
        ns(nsA, "ip", "addr", "add", ipA + "/24", "dev", "v" + nsA);
        ns(nsB, "ip", "addr", "add", ipB + "/24", "dev", "v" + nsB);
        for (String n : new String[] {nsA, nsB}) {
            ns(n, "ip", "link", "set", "lo", "up");
            ns(n, "ip", "link", "set", "v" + n, "up");
        }
        // The rules hypha-init writes; the proxies run as root here, so root is the proxy UID and the app (curl)
        // runs as nobody.
        IptablesRules rules = new IptablesRules(0, 4143, 4140, Set.of(4190, 4191), Set.of(), Set.of(), List.of());
        for (String n : new String[] {nsA, nsB}) {
            for (List<String> r : rules.commands()) {
                List<String> c = new ArrayList<>(List.of("iptables"));
                c.addAll(r);
                ns(n, c.toArray(String[]::new));
            }
        }
        TestPki pki = new TestPki("netns root");
        TestPki.Identity a = pki.issue(Mesh.ID_A, dir.resolve("a"));
        TestPki.Identity b = pki.issue(Mesh.ID_B, dir.resolve("b"));

        Path appLog = dir.resolve("app.log");
        Process app = java(nsB, Map.of(), appLog, "dev.hypha.proxy.testing.HttpBackend", "0.0.0.0", "8080");
        Path bLog = dir.resolve("proxy-b.log");
        Process pb = java(nsB, proxyEnv(b, null), bLog, "dev.hypha.proxy.Main");
        Path aLog = dir.resolve("proxy-a.log");
        Process pa = java(nsA, proxyEnv(a, ipB + ":8080=" + ipB + ":8080@" + Mesh.ID_B), aLog, "dev.hypha.proxy.Main");
        Cmd.awaitLog(appLog, "backend listening", app);
        Cmd.awaitLog(bLog, "hypha-proxy listening", pb);
        Cmd.awaitLog(aLog, "hypha-proxy listening", pa);

        Cmd.Result r = Cmd.run(30, "ip", "netns", "exec", nsA, "setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", "curl", "-sS", "--max-time", "15", "-D", "-", "http://" + ipB + ":8080/hello");
        assertEquals(0, r.exit(), r.err() + "\nproxy A: " + Files.readString(aLog) + "\nproxy B: " + Files.readString(bLog));
        assertTrue(r.out().startsWith("HTTP/1.1 200"), r.out());
        assertTrue(r.out().contains("x-echo-client-id: " + Mesh.ID_A), "app B must see A's identity: " + r.out());
        assertTrue(r.out().contains("x-echo-proto: h1"), r.out());

        Cmd.Result mb = Cmd.run(20, "ip", "netns", "exec", nsB, "curl", "-sS", "http://127.0.0.1:4191/metrics");
        assertTrue(mb.out().contains("hypha_http_responses_total{direction=\"inbound\",authority=\"" + ipB
                + ":8080\",tls=\"true\",client_id=\"" + Mesh.ID_A + "\""), mb.out());
        Cmd.Result ma = Cmd.run(20, "ip", "netns", "exec", nsA, "curl", "-sS", "http://127.0.0.1:4191/metrics");
        assertTrue(ma.out().contains("server_id=\"" + Mesh.ID_B + "\""), ma.out());
    }
}
