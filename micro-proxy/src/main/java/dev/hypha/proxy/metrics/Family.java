package dev.hypha.proxy.metrics;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * A metric family: a name, help text, label names and its series. The number of series is capped so that label
 * values taken from traffic (authorities, identities) can never grow memory without bound: past the cap, new label
 * sets are counted in {@code hypha_metrics_dropped_series_total} instead.
 */
public abstract sealed class Family<S> permits Family.Counter, Family.Gauge, Family.Histogram {
    static final int MAX_SERIES = 2000;

    final String name;
    final String help;
    final String[] labelNames;
    final Map<Labels, S> series = new ConcurrentHashMap<>();
    private final LongAdder dropped;

    Family(String name, String help, LongAdder dropped, String... labelNames) {
        this.name = name;
        this.help = help;
        this.labelNames = labelNames;
        this.dropped = dropped;
    }

    abstract String type();

    abstract S newSeries();

    /** The series for these label values (in label-name order), or null when the family is full. */
    public S with(String... values) {
        if (values.length != labelNames.length) {
            throw new IllegalArgumentException(name + " takes labels " + Arrays.toString(labelNames));
        }
        Labels key = new Labels(values);
        S s = series.get(key);
        if (s != null) {
            return s;
        }
        if (series.size() >= MAX_SERIES) {
            dropped.increment();
            return null;
        }
        return series.computeIfAbsent(key, k -> newSeries());
    }

    /**
     * The series for these label values through {@code last}, the series one caller recorded last: when the values
     * are the same again (a connection's requests, which mostly go to one authority), no key is built and the map
     * is not asked. Null when the family is full.
     */
    public S with(Last<S> last, String... values) {
        S s = last.series;
        if (s != null && Arrays.equals(last.values, values)) {
            return s;
        }
        s = with(values);
        if (s != null) {
            last.values = values;
            last.series = s;
        }
        return s;
    }

    /**
     * The series a caller recorded last and its label values. Not thread-safe: one per connection, used on its
     * event loop. Series are never removed from a family, so a remembered one stays the family's.
     */
    public static final class Last<S> {
        private String[] values;
        private S series;
    }

    /** Label values of one series; equality by content. */
    record Labels(String[] values) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Labels l && Arrays.equals(values, l.values);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(values);
        }
    }

    public static final class Counter extends Family<LongAdder> {
        Counter(String name, String help, LongAdder dropped, String... labels) {
            super(name, help, dropped, labels);
        }

        @Override
        String type() {
            return "counter";
        }

        @Override
        LongAdder newSeries() {
            return new LongAdder();
        }

        public void inc(String... values) {
            add(1, values);
        }

        public void add(long n, String... values) {
            LongAdder a = with(values);
            if (a != null) {
                a.add(n);
            }
        }

        /** As {@link #inc(String...)}, through the series the caller recorded last. */
        public void inc(Last<LongAdder> last, String... values) {
            LongAdder a = with(last, values);
            if (a != null) {
                a.increment();
            }
        }
    }

    public static final class Gauge extends Family<LongAdder> {
        Gauge(String name, String help, LongAdder dropped, String... labels) {
            super(name, help, dropped, labels);
        }

        @Override
        String type() {
            return "gauge";
        }

        @Override
        LongAdder newSeries() {
            return new LongAdder();
        }

        public void add(long n, String... values) {
            LongAdder a = with(values);
            if (a != null) {
                a.add(n);
            }
        }

        public void set(long n, String... values) {
            LongAdder a = with(values);
            if (a != null) {
                a.reset();
                a.add(n);
            }
        }
    }

    /** A histogram in seconds with fixed buckets; observations are recorded in microseconds. */
    public static final class Histogram extends Family<Histogram.Series> {
        final double[] bounds;

        Histogram(String name, String help, double[] bounds, LongAdder dropped, String... labels) {
            super(name, help, dropped, labels);
            this.bounds = bounds;
        }

        @Override
        String type() {
            return "histogram";
        }

        @Override
        Series newSeries() {
            return new Series(bounds.length);
        }

        public void observeNanos(long nanos, String... values) {
            observe(with(values), nanos);
        }

        /** As {@link #observeNanos(long, String...)}, through the series the caller recorded last. */
        public void observeNanos(Last<Series> last, long nanos, String... values) {
            observe(with(last, values), nanos);
        }

        private void observe(Series s, long nanos) {
            if (s == null) {
                return;
            }
            double secs = nanos / 1e9;
            int i = 0;
            while (i < bounds.length && secs > bounds[i]) {
                i++;
            }
            s.buckets[i].increment();
            s.sumMicros.add(nanos / 1000);
        }

        public static final class Series {
            final LongAdder[] buckets; // one per bound, plus +Inf; not cumulative
            final LongAdder sumMicros = new LongAdder();

            Series(int n) {
                buckets = new LongAdder[n + 1];
                for (int i = 0; i <= n; i++) {
                    buckets[i] = new LongAdder();
                }
            }
        }
    }
}
