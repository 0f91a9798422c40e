package dev.hypha.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Start to ready of the packaged proxy with its certificate from a local control plane: from the process's
 * start until {@code /ready} answers 200 (listening, key made, CSR sent, certificate held), {@code runs} times;
 * then the idle RSS of the last one. JVM flags of the proxy from {@code -Dhypha.bench.proxy.flags} (space
 * separated). Prints Markdown table rows.
 */
public final class StartupBench {
    public static void main(String[] args) throws Exception {
        int runs = Integer.getInteger("hypha.bench.runs", 5);
        List<String> flags = List.of(System.getProperty("hypha.bench.proxy.flags",
                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1").trim().split("\\s+"));
        Path dir = Files.createTempDirectory("startup-bench");
        Files.writeString(dir.resolve("registry.json"), "{\"services\": {}}");
        int[] ports = Procs.freePorts(2 + runs);
        try (Procs procs = new Procs(dir)) {
            procs.localControl(ports[1], ports[0], Map.of());
            double[] ms = new double[runs];
            double[] cpu = new double[runs]; // the proxy's CPU time (all threads) when it was found ready
            Process last = null;
            for (int i = 0; i < runs; i++) {
                String id = "bench-" + i + ".default.serviceaccount.identity.cluster.local";
                String token = Procs.joinToken(dir, ports[0], id, "10m");
                Map<String, String> env = Procs.proxyEnv(dir, ports[1], id, token, ports[2 + i]);
                env.put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:0");
                env.put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:0");
                env.put("HYPHA_PROXY_LOG_LEVEL", "warn");
                long t0 = System.nanoTime();
                Process p = procs.java("proxy-" + i, Procs.PROXY, env, flags);
                String ready = "http://127.0.0.1:" + ports[2 + i] + "/ready";
                while (Procs.status(ready) != 200) {
                    if (!p.isAlive()) {
                        throw new IllegalStateException("proxy exited:\n" + procs.log("proxy-" + i));
                    }
                    if (System.nanoTime() - t0 > 30_000_000_000L) {
                        throw new IllegalStateException("proxy not ready in 30 s:\n" + procs.log("proxy-" + i));
                    }
                    // every 10 ms: polled every 2 ms, the answers themselves cost the starting proxy enough CPU to
                    // make it measurably (~0.1 s) slower to become ready on this machine
                    Thread.sleep(10);
                }
                ms[i] = (System.nanoTime() - t0) / 1e6;
                cpu[i] = p.toHandle().info().totalCpuDuration().map(d -> d.toNanos() / 1e6).orElse(Double.NaN);
                if (last != null) {
                    Procs.stop(last);
                }
                last = p;
            }
            Thread.sleep(15_000); // settled: compiler arenas returned, C heap trimmed
            String[] mem = InjectorBench.rss(last.pid()).replace(" MiB", "").split(" / ");
            System.out.printf(Locale.ROOT, "| start to ready, certified by a local control plane (median of %d: %s ms) | %.0f ms |%n",
                    runs, each(ms), median(ms));
            System.out.printf(Locale.ROOT, "| CPU time of the proxy until ready, all threads (median of %d: %s ms) | %.0f ms |%n",
                    runs, each(cpu), median(cpu));
            System.out.printf("| RSS / RssAnon idle 15 s after certification | %s / %s MiB |%n", mem[0], mem[1]);
        }
    }

    private static String each(double[] values) {
        List<String> each = new ArrayList<>();
        for (double v : values) {
            each.add(String.format(Locale.ROOT, "%.0f", v));
        }
        return String.join(", ", each);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
