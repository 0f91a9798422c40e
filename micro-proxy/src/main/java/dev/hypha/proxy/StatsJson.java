package dev.hypha.proxy;

import dev.hypha.proxy.metrics.RollingStats;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * {@code GET /stats} on the admin port: the rolling-window statistics, one object per (direction, authority,
 * route) — exact success and failure counts over the last minute and the passed part of the current 10-second
 * bucket ({@code spanSeconds}), requests per second over that span, and latency percentiles (the upper bound of the
 * histogram bucket that holds them, in ms). The same numbers {@code hypha stat} and {@code routes} read over the tap.
 */
final class StatsJson {
    private StatsJson() {
    }

    static String of(RollingStats stats) {
        RollingStats.Window window = stats.window(RollingStats.BUCKETS);
        List<RollingStats.Snapshot> all = window.series();
        all.sort(Comparator.comparing(RollingStats.Snapshot::direction).thenComparing(RollingStats.Snapshot::authority)
                .thenComparing(RollingStats.Snapshot::route));
        double span = window.spanNanos() / 1e9;
        StringBuilder sb = new StringBuilder("{\n  \"windowSeconds\": ")
                .append(RollingStats.BUCKETS * RollingStats.BUCKET_NANOS / 1_000_000_000L)
                .append(",\n  \"spanSeconds\": ").append(String.format(Locale.ROOT, "%.3f", span))
                .append(",\n  \"droppedSeries\": ").append(stats.droppedSeries()).append(",\n  \"series\": [");
        for (int i = 0; i < all.size(); i++) {
            RollingStats.Snapshot s = all.get(i);
            sb.append(i == 0 ? "\n" : ",\n").append("    {\"direction\": ").append(q(s.direction()))
                    .append(", \"authority\": ").append(q(s.authority()))
                    .append(", \"route\": ").append(q(s.route()))
                    .append(", \"success\": ").append(s.success())
                    .append(", \"failure\": ").append(s.failure())
                    .append(", \"rps\": ").append(String.format(Locale.ROOT, "%.3f", s.total() / span))
                    .append(", \"latencyMsP50\": ").append(s.percentileMs(0.50))
                    .append(", \"latencyMsP95\": ").append(s.percentileMs(0.95))
                    .append(", \"latencyMsP99\": ").append(s.percentileMs(0.99)).append('}');
        }
        return sb.append(all.isEmpty() ? "]\n}\n" : "\n  ]\n}\n").toString();
    }

    private static String q(String v) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : v.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }
}
