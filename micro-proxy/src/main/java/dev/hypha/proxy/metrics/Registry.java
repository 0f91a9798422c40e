package dev.hypha.proxy.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/** The proxy's metric families and their Prometheus text exposition (format 0.0.4). */
public final class Registry {
    private final List<Family<?>> families = new ArrayList<>();
    private final List<Object[]> gaugeFns = new ArrayList<>();
    private final LongAdder dropped = new LongAdder();

    public Family.Counter counter(String name, String help, String... labels) {
        return add(new Family.Counter(name, help, dropped, labels));
    }

    public Family.Gauge gauge(String name, String help, String... labels) {
        return add(new Family.Gauge(name, help, dropped, labels));
    }

    public Family.Histogram histogram(String name, String help, double[] bounds, String... labels) {
        return add(new Family.Histogram(name, help, bounds, dropped, labels));
    }

    /** A gauge without labels whose value is read when scraped. */
    public synchronized void gauge(String name, String help, LongSupplier value) {
        gaugeFns.add(new Object[] {name, help, value});
    }

    private synchronized <F extends Family<?>> F add(F f) {
        families.add(f);
        return f;
    }

    public synchronized String scrape() {
        StringBuilder sb = new StringBuilder(4096);
        for (Family<?> f : families) {
            if (f.series.isEmpty()) {
                continue;
            }
            sb.append("# HELP ").append(f.name).append(' ').append(f.help).append('\n');
            sb.append("# TYPE ").append(f.name).append(' ').append(f.type()).append('\n');
            for (Map.Entry<Family.Labels, ?> e : f.series.entrySet()) {
                String[] values = e.getKey().values();
                if (f instanceof Family.Histogram h) {
                    Family.Histogram.Series s = (Family.Histogram.Series) e.getValue();
                    long cum = 0;
                    for (int i = 0; i <= h.bounds.length; i++) {
                        cum += s.buckets[i].sum();
                        String le = i < h.bounds.length ? fmt(h.bounds[i]) : "+Inf";
                        sb.append(f.name).append("_bucket");
                        labels(sb, f.labelNames, values, "le", le);
                        sb.append(' ').append(cum).append('\n');
                    }
                    sb.append(f.name).append("_sum");
                    labels(sb, f.labelNames, values, null, null);
                    sb.append(' ').append(fmt(s.sumMicros.sum() / 1e6)).append('\n');
                    sb.append(f.name).append("_count");
                    labels(sb, f.labelNames, values, null, null);
                    sb.append(' ').append(cum).append('\n');
                } else {
                    sb.append(f.name);
                    labels(sb, f.labelNames, values, null, null);
                    sb.append(' ').append(((LongAdder) e.getValue()).sum()).append('\n');
                }
            }
        }
        for (Object[] g : gaugeFns) {
            sb.append("# HELP ").append(g[0]).append(' ').append(g[1]).append('\n');
            sb.append("# TYPE ").append(g[0]).append(" gauge\n");
            sb.append(g[0]).append(' ').append(((LongSupplier) g[2]).getAsLong()).append('\n');
        }
        sb.append("# HELP hypha_metrics_dropped_series_total Label sets not recorded because a family reached its series cap.\n");
        sb.append("# TYPE hypha_metrics_dropped_series_total counter\n");
        sb.append("hypha_metrics_dropped_series_total ").append(dropped.sum()).append('\n');
        return sb.toString();
    }

    private static void labels(StringBuilder sb, String[] names, String[] values, String extraName, String extra) {
        boolean any = false;
        for (int i = 0; i < names.length; i++) {
            if (values[i] == null || values[i].isEmpty()) {
                continue;
            }
            sb.append(any ? ',' : '{').append(names[i]).append("=\"");
            escape(sb, values[i]);
            sb.append('"');
            any = true;
        }
        if (extraName != null) {
            sb.append(any ? ',' : '{').append(extraName).append("=\"").append(extra).append('"');
            any = true;
        }
        if (any) {
            sb.append('}');
        }
    }

    private static void escape(StringBuilder sb, String v) {
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '"' -> sb.append("\\\"");
                case '\n' -> sb.append("\\n");
                default -> sb.append(c);
            }
        }
    }

    private static String fmt(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return Long.toString((long) d) + ".0";
        }
        return Double.toString(d);
    }
}
