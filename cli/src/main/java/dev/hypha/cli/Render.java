package dev.hypha.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.Edge;
import dev.hypha.api.v1.Series;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.WorkloadStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Output of stat, routes, edges, tap and top: pure functions from the control plane's answers to text, so that
 * golden files pin every column and format. Percentiles are the upper bound of the histogram bucket holding them
 * (as Linkerd reports them); "-" means no requests in the window.
 */
final class Render {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Render() {
    }

    /** One row's numbers: requests by class over the window and a latency histogram. */
    static final class Totals {
        long success;
        long failure;
        long actualSuccess;
        long actualFailure;
        long[] hist = new long[0];

        void add(Series s) {
            success += s.getSuccess();
            failure += s.getFailure();
            actualSuccess += s.getActualSuccess();
            actualFailure += s.getActualFailure();
            if (hist.length < s.getLatencyBucketsCount()) {
                hist = java.util.Arrays.copyOf(hist, s.getLatencyBucketsCount());
            }
            for (int i = 0; i < s.getLatencyBucketsCount(); i++) {
                hist[i] += s.getLatencyBuckets(i);
            }
        }

        long total() {
            return success + failure;
        }
    }

    static String percent(long ok, long all) {
        return all == 0 ? "-" : String.format(Locale.ROOT, "%.2f%%", 100.0 * ok / all);
    }

    static String rps(long n, double spanSeconds) {
        return n == 0 ? "-" : String.format(Locale.ROOT, "%.1frps", n / spanSeconds);
    }

    /**
     * The seconds an answer's counts cover: its span (the window's whole buckets and the passed part of the current
     * one), or the window itself from a proxy that does not report a span.
     */
    static double spanSeconds(StatsResponse r) {
        return r.getSpanMillis() > 0 ? r.getSpanMillis() / 1000.0 : r.getWindowSeconds();
    }

    static String latency(long[] hist, List<Long> bounds, double q) {
        long n = 0;
        for (long c : hist) {
            n += c;
        }
        if (n == 0) {
            return "-";
        }
        long rank = Math.max(1, (long) Math.ceil(q * n));
        long seen = 0;
        for (int i = 0; i < hist.length; i++) {
            seen += hist[i];
            if (seen >= rank) {
                return i < bounds.size() ? bounds.get(i) + "ms" : ">" + bounds.get(bounds.size() - 1) + "ms";
            }
        }
        return "-";
    }

    /** Rows under a header: printed as a table, or as JSON (an array of objects keyed by lower-case column). */
    record Tab(List<String> header, List<List<String>> rows, List<Map<String, Long>> counts) {
        Tab(List<String> header, List<List<String>> rows) {
            this(header, rows, null);
        }

        String text() {
            return table(header, rows);
        }

        String json() {
            var arr = JSON.createArrayNode();
            for (int n = 0; n < rows.size(); n++) {
                List<String> r = rows.get(n);
                ObjectNode o = arr.addObject();
                for (int i = 0; i < header.size(); i++) {
                    o.put(header.get(i).toLowerCase(Locale.ROOT).replace(' ', '_'), r.get(i));
                }
                if (counts != null) {
                    counts.get(n).forEach(o::put); // the exact numbers behind the rounded columns, for scripts
                }
            }
            try {
                return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(arr) + "\n";
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A table with columns padded to their widest cell, separated by three spaces, as kubectl prints. */
    static String table(List<String> header, List<List<String>> rows) {
        int[] w = new int[header.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = header.get(i).length();
        }
        for (List<String> r : rows) {
            for (int i = 0; i < w.length; i++) {
                w[i] = Math.max(w[i], r.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        List<List<String>> all = new ArrayList<>();
        all.add(header);
        all.addAll(rows);
        for (List<String> r : all) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < w.length; i++) {
                String c = r.get(i);
                line.append(c);
                if (i < w.length - 1) {
                    line.append(" ".repeat(w[i] - c.length() + 3));
                }
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    /** The exact numbers of a row, beside its rounded columns in JSON output. */
    static Map<String, Long> counts(Totals t, StatsResponse r) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("requests", t.total());
        m.put("successes", t.success);
        m.put("failures", t.failure);
        m.put("actual_requests", t.actualSuccess + t.actualFailure);
        m.put("actual_failures", t.actualFailure);
        m.put("window_seconds", (long) r.getWindowSeconds());
        m.put("span_millis", Math.round(spanSeconds(r) * 1000));
        return m;
    }

    // ---- stat ----

    /**
     * {@code hypha stat}: one row per resource — the traffic it served (inbound; with {@code --to}, what it sent
     * there) over the window.
     */
    static Tab stat(StatsResponse r, boolean allNamespaces, boolean outbound) {
        List<String> header = new ArrayList<>(List.of("NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50",
                "LATENCY_P95", "LATENCY_P99", "TCP_CONN"));
        if (allNamespaces) {
            header.add(0, "NAMESPACE");
        }
        List<List<String>> rows = new ArrayList<>();
        List<Map<String, Long>> counts = new ArrayList<>();
        List<WorkloadStats> ws = new ArrayList<>(r.getWorkloadsList());
        ws.sort(java.util.Comparator.comparing((WorkloadStats w) -> w.getResource().getNamespace())
                .thenComparing(w -> w.getResource().getName()));
        for (WorkloadStats w : ws) {
            Totals t = new Totals();
            for (Series s : w.getSeriesList()) {
                if (s.getDirection() == (outbound ? Direction.OUTBOUND : Direction.INBOUND)) {
                    t.add(s);
                }
            }
            List<String> row = new ArrayList<>(List.of(w.getResource().getName(),
                    w.getMeshedPods() + "/" + w.getPods(), percent(t.success, t.total()),
                    rps(t.total(), spanSeconds(r)), latency(t.hist, r.getLatencyBoundsMsList(), 0.5),
                    latency(t.hist, r.getLatencyBoundsMsList(), 0.95), latency(t.hist, r.getLatencyBoundsMsList(), 0.99),
                    w.getMeshedPods() == 0 ? "-" : Long.toString(w.getTcpOpenConnections())));
            if (allNamespaces) {
                row.add(0, w.getResource().getNamespace());
            }
            rows.add(row);
            counts.add(counts(t, r));
        }
        return new Tab(header, rows, counts);
    }

    // ---- routes ----

    /** The service a series' authority names: its first label ("books" of books.demo.svc.cluster.local:8080). */
    static String service(String authority) {
        int colon = authority.lastIndexOf(':');
        String host = colon > 0 ? authority.substring(0, colon) : authority;
        int dot = host.indexOf('.');
        return dot > 0 && host.contains(".svc.") ? host.substring(0, dot) : host;
    }

    /**
     * {@code hypha routes}: one row per (service, route), inbound to the resource (or outbound to {@code --to});
     * {@code [DEFAULT]} last. Wide: effective (what callers saw) and actual (every try) success and rate.
     */
    static Tab routes(StatsResponse r, boolean outbound, boolean wide) {
        Map<String, Totals> rows = new TreeMap<>((a, b) -> {
            String[] x = a.split("\u0000");
            String[] y = b.split("\u0000");
            int c = x[1].compareTo(y[1]);
            if (c != 0) {
                return c;
            }
            boolean dx = x[0].equals("[DEFAULT]");
            boolean dy = y[0].equals("[DEFAULT]");
            return dx != dy ? (dx ? 1 : -1) : x[0].compareTo(y[0]);
        });
        for (WorkloadStats w : r.getWorkloadsList()) {
            for (Series s : w.getSeriesList()) {
                if (s.getDirection() == (outbound ? Direction.OUTBOUND : Direction.INBOUND)) {
                    rows.computeIfAbsent(s.getRoute() + "\u0000" + service(s.getAuthority()), k -> new Totals()).add(s);
                }
            }
        }
        List<String> header = wide
                ? List.of("ROUTE", "SERVICE", "EFFECTIVE_SUCCESS", "EFFECTIVE_RPS", "ACTUAL_SUCCESS", "ACTUAL_RPS",
                    "LATENCY_P50", "LATENCY_P95", "LATENCY_P99")
                : List.of("ROUTE", "SERVICE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99");
        List<List<String>> out = new ArrayList<>();
        List<Map<String, Long>> counts = new ArrayList<>();
        double win = spanSeconds(r);
        var b = r.getLatencyBoundsMsList();
        for (var e : rows.entrySet()) {
            String[] k = e.getKey().split("\u0000");
            Totals t = e.getValue();
            long actual = t.actualSuccess + t.actualFailure;
            out.add(wide
                    ? List.of(k[0], k[1], percent(t.success, t.total()), rps(t.total(), win),
                        percent(t.actualSuccess, actual), rps(actual, win), latency(t.hist, b, 0.5),
                        latency(t.hist, b, 0.95), latency(t.hist, b, 0.99))
                    : List.of(k[0], k[1], percent(t.success, t.total()), rps(t.total(), win), latency(t.hist, b, 0.5),
                        latency(t.hist, b, 0.95), latency(t.hist, b, 0.99)));
            counts.add(counts(t, r));
        }
        return new Tab(header, out, counts);
    }

    // ---- edges ----

    /**
     * {@code hypha edges}: who talked to whom over the window. Each selected resource's outbound edges (the
     * destination named by discovery's labels), and inbound edges from clients that are not among the selected
     * resources (an unmeshed client shows as its address).
     */
    static Tab edges(StatsResponse r, boolean wide) {
        Set<String> selectedIds = new java.util.HashSet<>();
        for (WorkloadStats w : r.getWorkloadsList()) {
            if (!w.getIdentity().isEmpty()) {
                selectedIds.add(w.getIdentity());
            }
        }
        Map<String, List<String>> rows = new TreeMap<>();
        for (WorkloadStats w : r.getWorkloadsList()) {
            String self = w.getResource().getName();
            String selfNs = w.getResource().getNamespace();
            for (Edge e : w.getEdgesList()) {
                List<String> row;
                if (e.getDirection() == Direction.OUTBOUND) {
                    Map<String, String> l = e.getPeerLabelsMap();
                    String dst = l.getOrDefault("owner_name", l.getOrDefault("pod", e.getPeerAddress()));
                    row = new ArrayList<>(List.of(self, dst, selfNs, l.getOrDefault("namespace", "-"),
                            e.getSecured() ? "√" : "×"));
                } else {
                    if (e.getSecured() && selectedIds.contains(e.getClientIdentity())) {
                        continue; // the client is selected too: its outbound edge is the row
                    }
                    String src = e.getSecured() ? identityName(e.getClientIdentity()) : e.getPeerAddress();
                    row = new ArrayList<>(List.of(src, self, e.getSecured() ? identityNamespace(e.getClientIdentity())
                            : "-", selfNs, e.getSecured() ? "√" : "×"));
                }
                if (wide) {
                    row.add(e.getClientIdentity().isEmpty() ? "-" : e.getClientIdentity());
                    row.add(e.getServerIdentity().isEmpty() ? "-" : e.getServerIdentity());
                }
                rows.putIfAbsent(String.join("\u0000", row), row);
            }
        }
        List<String> header = new ArrayList<>(List.of("SRC", "DST", "SRC_NS", "DST_NS", "SECURED"));
        if (wide) {
            header.addAll(List.of("CLIENT_ID", "SERVER_ID"));
        }
        return new Tab(header, new ArrayList<>(rows.values()));
    }

    static String identityName(String id) {
        int dot = id.indexOf('.');
        return dot > 0 ? id.substring(0, dot) : id;
    }

    static String identityNamespace(String id) {
        String[] p = id.split("\\.");
        return p.length > 1 ? p[1] : "";
    }

    // ---- tap ----

    /** Numbers each proxy in order of appearance, for short event ids ("0:17"). */
    static final class TapIds {
        private final Map<String, Integer> proxies = new HashMap<>();

        String id(TapEvent e, long id) {
            int n = proxies.computeIfAbsent(e.getProxy(), k -> proxies.size());
            return n + ":" + id;
        }
    }

    /** One tap event as the line Linkerd users know. */
    static String tapLine(TapEvent e, TapIds ids, boolean wide) {
        StringBuilder sb = new StringBuilder();
        String common = " proxy=" + (e.getDirection() == Direction.INBOUND ? "in" : "out") + " src=" + e.getSource()
                + " dst=" + e.getDestination() + " tls=" + (e.getTls() ? "true" : "no_identity");
        switch (e.getEventCase()) {
            case REQUEST_INIT -> {
                var q = e.getRequestInit();
                sb.append("req id=").append(ids.id(e, q.getId())).append(common).append(" :method=").append(q.getMethod())
                        .append(" :authority=").append(q.getAuthority()).append(" :path=").append(q.getPath());
            }
            case RESPONSE_INIT -> {
                var q = e.getResponseInit();
                sb.append("rsp id=").append(ids.id(e, q.getId())).append(common).append(" :status=")
                        .append(q.getHttpStatus()).append(" latency=").append(q.getSinceRequestInitMicros()).append("µs");
            }
            case RESPONSE_END -> {
                var q = e.getResponseEnd();
                sb.append("end id=").append(ids.id(e, q.getId())).append(common);
                if (!q.getResetError().isEmpty()) {
                    sb.append(" reset-error=").append(q.getResetError());
                } else if (q.getGrpcStatus() >= 0) {
                    sb.append(" grpc-status=").append(grpcName(q.getGrpcStatus()));
                }
                if (!q.getProxyError().isEmpty()) {
                    sb.append(" proxy-error=").append(q.getProxyError());
                }
                sb.append(" duration=").append(q.getSinceResponseInitMicros()).append("µs response-length=")
                        .append(q.getResponseBytes()).append('B');
            }
            default -> sb.append("unknown event");
        }
        if (wide) {
            sb.append(" proxy_pod=").append(e.getProxy()).append(" route=").append(e.getRoute());
            String dst = e.getDestinationLabelsMap().getOrDefault("pod", "");
            if (!dst.isEmpty()) {
                sb.append(" dst_pod=").append(dst);
            }
            if (!e.getClientIdentity().isEmpty()) {
                sb.append(" client_id=").append(e.getClientIdentity());
            }
            if (!e.getServerIdentity().isEmpty()) {
                sb.append(" server_id=").append(e.getServerIdentity());
            }
        }
        return sb.toString();
    }

    static final String[] GRPC = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

    static String grpcName(int code) {
        return code >= 0 && code < GRPC.length ? GRPC[code] : Integer.toString(code);
    }

    /** One tap event as one JSON object (one per line). */
    static String tapJson(TapEvent e) {
        ObjectNode o = JSON.createObjectNode();
        o.put("proxy", e.getProxy());
        o.put("direction", e.getDirection() == Direction.INBOUND ? "inbound" : "outbound");
        o.put("source", e.getSource());
        o.put("destination", e.getDestination());
        o.put("tls", e.getTls());
        o.put("clientId", e.getClientIdentity());
        o.put("serverId", e.getServerIdentity());
        o.put("route", e.getRoute());
        ObjectNode labels = o.putObject("destinationLabels");
        new TreeMap<>(e.getDestinationLabelsMap()).forEach(labels::put);
        switch (e.getEventCase()) {
            case REQUEST_INIT -> {
                var q = e.getRequestInit();
                ObjectNode r = o.putObject("requestInit");
                r.put("id", q.getId());
                r.put("method", q.getMethod());
                r.put("scheme", q.getScheme());
                r.put("authority", q.getAuthority());
                r.put("path", q.getPath());
            }
            case RESPONSE_INIT -> {
                var q = e.getResponseInit();
                ObjectNode r = o.putObject("responseInit");
                r.put("id", q.getId());
                r.put("httpStatus", q.getHttpStatus());
                r.put("sinceRequestInitMicros", q.getSinceRequestInitMicros());
            }
            case RESPONSE_END -> {
                var q = e.getResponseEnd();
                ObjectNode r = o.putObject("responseEnd");
                r.put("id", q.getId());
                r.put("sinceRequestInitMicros", q.getSinceRequestInitMicros());
                r.put("sinceResponseInitMicros", q.getSinceResponseInitMicros());
                r.put("responseBytes", q.getResponseBytes());
                if (q.getGrpcStatus() >= 0) {
                    r.put("grpcStatus", q.getGrpcStatus());
                }
                r.put("success", q.getSuccess());
                if (!q.getResetError().isEmpty()) {
                    r.put("resetError", q.getResetError());
                }
                if (!q.getProxyError().isEmpty()) {
                    r.put("proxyError", q.getProxyError());
                }
            }
            default -> {
            }
        }
        return o.toString();
    }

    // ---- top ----

    /** {@code hypha top}: requests seen by tap, grouped by (source, destination, method, path). */
    static final class Top {
        private final Map<Long, Pending> open = new LinkedHashMap<>(16, 0.75f, true);
        private final Map<List<String>, Row> rows = new HashMap<>();

        private record Pending(List<String> key) {
        }

        private static final class Row {
            long count;
            long ok;
            long best = Long.MAX_VALUE;
            long worst;
            long last;
        }

        void add(TapEvent e) {
            long proxyKey = e.getProxy().hashCode() * 1_000_003L;
            switch (e.getEventCase()) {
                case REQUEST_INIT -> {
                    var q = e.getRequestInit();
                    String src = e.getDirection() == Direction.INBOUND
                            ? (e.getClientIdentity().isEmpty() ? host(e.getSource()) : identityName(e.getClientIdentity()))
                            : podOf(e.getProxy());
                    String dst = e.getDirection() == Direction.INBOUND ? podOf(e.getProxy())
                            : e.getDestinationLabelsMap().getOrDefault("pod", service(q.getAuthority()));
                    String path = q.getPath();
                    int qm = path.indexOf('?');
                    open.put(proxyKey + q.getId(), new Pending(List.of(src, dst, q.getMethod(),
                            qm >= 0 ? path.substring(0, qm) : path)));
                    if (open.size() > 10_000) {
                        var it = open.entrySet().iterator();
                        it.next();
                        it.remove();
                    }
                }
                case RESPONSE_END -> {
                    var q = e.getResponseEnd();
                    Pending p = open.remove(proxyKey + q.getId());
                    if (p == null) {
                        return;
                    }
                    Row r = rows.computeIfAbsent(p.key(), k -> new Row());
                    long us = q.getSinceRequestInitMicros();
                    r.count++;
                    if (q.getSuccess()) {
                        r.ok++;
                    }
                    r.best = Math.min(r.best, us);
                    r.worst = Math.max(r.worst, us);
                    r.last = us;
                }
                default -> {
                }
            }
        }

        static String podOf(String proxy) {
            int slash = proxy.indexOf('/');
            return slash >= 0 ? proxy.substring(slash + 1) : proxy;
        }

        static String host(String addr) {
            int colon = addr.lastIndexOf(':');
            return colon > 0 ? addr.substring(0, colon) : addr;
        }

        /** The table, busiest paths first, at most {@code limit} rows. */
        Tab render(int limit) {
            List<Map.Entry<List<String>, Row>> all = new ArrayList<>(rows.entrySet());
            all.sort((a, b) -> a.getValue().count != b.getValue().count
                    ? Long.compare(b.getValue().count, a.getValue().count)
                    : String.join(" ", a.getKey()).compareTo(String.join(" ", b.getKey())));
            List<List<String>> out = new ArrayList<>();
            for (var e : all.subList(0, Math.min(limit, all.size()))) {
                Row r = e.getValue();
                List<String> row = new ArrayList<>(e.getKey());
                row.addAll(List.of(Long.toString(r.count), ms(r.best), ms(r.worst), ms(r.last),
                        percent(r.ok, r.count)));
                out.add(row);
            }
            return new Tab(List.of("Source", "Destination", "Method", "Path", "Count", "Best", "Worst", "Last",
                    "Success Rate"), out);
        }

        static String ms(long micros) {
            return micros >= 1000 ? String.format(Locale.ROOT, "%.1fms", micros / 1000.0) : micros + "µs";
        }
    }
}
