package dev.hypha.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, {@code hypha demo --duration 20s}, as a process (the launcher adds only the build
 * step): it exits 0; its tables show books' failing route within a few points of the configured failure rate and
 * authors' slow route at the configured delay; edges are all secured with both identities; the tap sample shows
 * events; and afterwards no process it started is alive and every port it listened on is free again.
 */
class DemoSmokeTest {
    @TempDir
    Path dir;

    @Test
    void demoRunsShowsTablesThatAgreeAndLeavesNothingBehind() throws Exception {
        Path context = dir.resolve("local.json");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "-Dhypha.root=" + Procs.ROOT, "dev.hypha.e2e.Demo", "--duration", "20s").redirectErrorStream(true)
                .redirectOutput(dir.resolve("demo.out").toFile());
        pb.environment().put("HYPHA_LOCAL_CONTEXT", context.toString());
        Process demo = pb.start();
        Set<ProcessHandle> children = new java.util.HashSet<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        boolean sawContext = false;
        while (demo.isAlive()) {
            demo.descendants().forEach(children::add);
            sawContext |= Files.exists(context);
            assertTrue(System.nanoTime() < deadline, "the demo did not finish in 180 s:\n" + output());
            Thread.sleep(200);
        }
        String out = output();
        assertEquals(0, demo.exitValue(), out);
        assertTrue(sawContext, "the demo writes the CLI's local context while it runs");
        assertFalse(Files.exists(context), "the demo removes its local context at the end");

        // the failing route, within a few points of the configured 1-in-5 failure rate
        String[] failing = Demo.row(section(out, "routes deploy/web -n demo --to svc/books"), "GET /books/{id}");
        assertNotNull(failing, out);
        double success = Double.parseDouble(failing[2].replace("%", ""));
        assertTrue(Math.abs(success - 80.0) <= 5, "GET /books/{id} success " + success + " %, configured 80 %");
        // the slow route: p50 in the histogram bucket that holds the configured 180 ms (upper bound 200 ms)
        String[] slow = Demo.row(section(out, "routes deploy/web -n demo --to svc/authors"), "GET /authors/{id}");
        assertNotNull(slow, out);
        assertEquals("200ms", slow[4], "p50 of a 180 ms route");
        String[] fast = Demo.row(section(out, "routes deploy/web -n demo --to svc/authors"), "GET /authors");
        assertTrue(Long.parseLong(fast[4].replace("ms", "")) < 180, "the other authors route is fast: " + fast[4]);
        // stat: every app meshed, with traffic
        String stat = section(out, "stat deploy -n demo");
        for (String w : List.of("web", "books", "authors", "traffic")) {
            String[] r = Demo.row(stat, w);
            assertNotNull(r, stat);
            assertEquals("1/1", r[1], stat);
        }
        // edges: all secured, both identities shown
        String edges = section(out, "edges deploy -n demo -o wide");
        for (String[] e : new String[][] {{"traffic", "web"}, {"web", "books"}, {"web", "authors"}}) {
            String[] r = findEdge(edges, e[0], e[1]);
            assertNotNull(r, "edge " + e[0] + " → " + e[1] + " in\n" + edges);
            assertEquals("√", r[4], edges);
            assertEquals(e[0] + ".demo.serviceaccount.identity.cluster.local", r[5]);
            assertEquals(e[1] + ".demo.serviceaccount.identity.cluster.local", r[6]);
        }
        // the tap sample shows request events
        String tap = section(out, "tap deploy/web -n demo --path /books --max-rps 2");
        assertTrue(tap.lines().anyMatch(l -> l.startsWith("req ") && l.contains(":path=/books")), tap);
        assertTrue(out.contains("✓ books GET /books/{id}"), out);
        assertTrue(out.contains("✓ authors GET /authors/{id}"), out);

        // nothing left: every process it started is gone, every port it listened on is free
        for (ProcessHandle h : children) {
            assertTrue(h.onExit().isDone() || !h.isAlive(), "process " + h.pid() + " " + h.info().command()
                    + " still runs after the demo");
        }
        assertTrue(children.size() >= 5, "expected the control plane and 4 proxies among " + children.size());
        Set<Integer> ports = ports(out);
        assertTrue(ports.size() >= 2 + 4 * 4 + 3, "ports found in the output: " + ports);
        for (int port : ports) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            } catch (IOException e) {
                throw new AssertionError("port " + port + " is still in use after the demo: " + e.getMessage()
                        + "\n" + sockets(port));
            }
        }
    }

    private String output() throws IOException {
        return Files.readString(dir.resolve("demo.out"), StandardCharsets.UTF_8);
    }

    /** The output of one CLI command the demo ran: from its "$ hypha <title>" line to the next blank line. */
    static String section(String out, String title) {
        int i = out.lastIndexOf("$ hypha " + title);
        assertTrue(i >= 0, "no '$ hypha " + title + "' in\n" + out);
        int end = out.indexOf("\n\n", i);
        return out.substring(out.indexOf('\n', i) + 1, end < 0 ? out.length() : end);
    }

    static String[] findEdge(String table, String src, String dst) {
        for (String l : table.split("\n")) {
            String[] c = l.trim().split("\\s{2,}");
            if (c.length >= 7 && c[0].equals(src) && c[1].equals(dst)) {
                return c;
            }
        }
        return null;
    }

    /** Every port the demo said it listens on (control plane, proxies, apps). */
    /** What holds {@code port} now, as {@code ss} shows it (for the failure message). */
    private static String sockets(int port) {
        try {
            Process p = new ProcessBuilder("ss", "-tanp").redirectErrorStream(true).start();
            String all = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return all.lines().filter(l -> l.contains(":" + port + " ")).reduce((x, y) -> x + "\n" + y)
                    .orElse("(ss shows no socket on it)");
        } catch (IOException | InterruptedException e) {
            return "(ss failed: " + e + ")";
        }
    }

    /**
     * The ports the demo listened on, as its output names them. Not the {@code src=} addresses of tap lines: those
     * are the clients' ephemeral ports, which the kernel may still hold (a closing connection of a process that has
     * exited) or have handed to another connection by now. A number followed by a dot is an address, not a port
     * ("admin 127.0.0.1:…").
     */
    static Set<Integer> ports(String out) {
        Set<Integer> ports = new TreeSet<>();
        Matcher m = Pattern.compile("(?:(?<!src=)127\\.0\\.0\\.1:|inbound |outbound |admin |tap )(\\d{2,5})(?![\\d.])")
                .matcher(out);
        while (m.find()) {
            ports.add(Integer.parseInt(m.group(1)));
        }
        return ports;
    }
}
