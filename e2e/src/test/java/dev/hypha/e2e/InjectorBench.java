package dev.hypha.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Admission latency of the packaged injector at a constant 100 requests/s, measured at the client from each
 * request's send, or from its due time when a late answer delayed it (no coordinated omission), over
 * TLS with kept-alive connections, with the API server's Pod CREATE review. Warm-up, then {@code runs} runs;
 * prints Markdown table rows with the medians. {@code -Dhypha.bench.seconds} and {@code -Dhypha.bench.runs}
 * shorten it (the smoke run in CI).
 */
public final class InjectorBench {
    public static void main(String[] args) throws Exception {
        int seconds = Integer.getInteger("hypha.bench.seconds", 20);
        int runs = Integer.getInteger("hypha.bench.runs", 3);
        int warmup = Integer.getInteger("hypha.bench.warmup", 10);
        int rate = 100;
        Path dir = Files.createTempDirectory("injector-bench");
        try (InjectorProcess inj = new InjectorProcess(dir)) {
            byte[] body = InjectorProcess.review();
            if (!"JSONPatch".equals(inj.post(body).at("/response/patchType").asText())) {
                throw new IllegalStateException("the injector did not inject the benchmark's pod");
            }
            measure(inj, body, rate, warmup);
            double[][] results = new double[runs][];
            for (int r = 0; r < runs; r++) {
                results[r] = measure(inj, body, rate, seconds);
            }
            String[] names = {"p50", "p99", "p99.9", "max"};
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < names.length; i++) {
                double[] v = new double[runs];
                for (int r = 0; r < runs; r++) {
                    v[r] = results[r][i];
                }
                rows.add(String.format(Locale.ROOT, "| admission latency %s at %d req/s (median of %d runs: %s) | %.2f ms |",
                        names[i], rate, runs, fmt(v), median(v)));
            }
            double[] p99 = new double[runs];
            for (int r = 0; r < runs; r++) {
                p99[r] = results[r][1];
            }
            rows.add("| budget: p99 under 5 ms | " + (median(p99) < 5 ? "met" : "NOT met") + " |");
            rows.add(String.format(Locale.ROOT, "| injector RSS / RssAnon after the runs | %s |", rss(inj.process.pid())));
            rows.forEach(System.out::println);
        }
    }

    /** {p50, p99, p99.9, max} in milliseconds. */
    static double[] measure(InjectorProcess inj, byte[] body, int rate, int seconds) throws Exception {
        int n = rate * seconds;
        double[] lat = new double[n];
        long interval = 1_000_000_000L / rate;
        long start = System.nanoTime();
        long prevEnd = start;
        for (int i = 0; i < n; i++) {
            long due = start + i * interval;
            // park until shortly before the due time, then spin: the client's own timer jitter is not latency
            long wait = due - System.nanoTime() - 200_000;
            if (wait > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(wait);
            }
            while (System.nanoTime() < due) {
                Thread.onSpinWait();
            }
            // behind schedule because the previous answer was late: count from when this request was due
            long begin = prevEnd > due ? due : System.nanoTime();
            inj.post(body);
            prevEnd = System.nanoTime();
            lat[i] = (prevEnd - begin) / 1e6;
        }
        Arrays.sort(lat);
        return new double[] {pct(lat, 0.50), pct(lat, 0.99), pct(lat, 0.999), lat[n - 1]};
    }

    static double pct(double[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String fmt(double[] v) {
        StringBuilder sb = new StringBuilder();
        for (double d : v) {
            sb.append(sb.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", d));
        }
        return sb.toString();
    }

    static String rss(long pid) {
        try {
            String rss = "?";
            String anon = "?";
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) {
                    rss = String.valueOf(Long.parseLong(l.replaceAll("\\D", "")) / 1024);
                }
                if (l.startsWith("RssAnon:")) {
                    anon = String.valueOf(Long.parseLong(l.replaceAll("\\D", "")) / 1024);
                }
            }
            return rss + " / " + anon + " MiB";
        } catch (Exception e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }
}
