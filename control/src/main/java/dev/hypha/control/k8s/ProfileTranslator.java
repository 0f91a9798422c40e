package dev.hypha.control.k8s;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.HeaderMatch;
import dev.hypha.api.v1.HttpStatusRange;
import dev.hypha.api.v1.RequestMatch;
import dev.hypha.api.v1.ResponseClass;
import dev.hypha.api.v1.ResponseMatch;
import dev.hypha.api.v1.RetryBudget;
import dev.hypha.api.v1.Route;
import dev.hypha.api.v1.WeightedDst;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * ServiceProfile spec (serviceprofiles.hypha.dev/v1alpha1, Linkerd's v1alpha2 shape plus a header condition) →
 * {@link DestinationProfile}. Checks what the CRD schema cannot: regular expressions compile, durations and
 * quantities parse, status ranges are ordered. An invalid profile throws {@link InvalidProfile} naming the field.
 */
public final class ProfileTranslator {
    private ProfileTranslator() {
    }

    /** A profile that cannot be used; the message names the field and the problem. */
    public static final class InvalidProfile extends Exception {
        InvalidProfile(String m) {
            super(m);
        }
    }

    public static DestinationProfile translate(String fqdn, Object specObj) throws InvalidProfile {
        Map<String, Object> spec = map(specObj, "spec");
        DestinationProfile.Builder b = DestinationProfile.newBuilder().setFullyQualifiedName(fqdn);
        List<Object> routes = list(spec.get("routes"), "spec.routes");
        for (int i = 0; i < routes.size(); i++) {
            String at = "spec.routes[" + i + "]";
            Map<String, Object> r = map(routes.get(i), at);
            Route.Builder rb = Route.newBuilder().setName(str(r.get("name"), at + ".name"))
                    .setCondition(request(map(r.get("condition"), at + ".condition"), at + ".condition"))
                    .setIsRetryable(Boolean.TRUE.equals(r.get("isRetryable")));
            if (r.get("timeout") != null) {
                rb.setTimeoutMillis(duration(String.valueOf(r.get("timeout")), at + ".timeout"));
            }
            List<Object> classes = list(r.get("responseClasses"), at + ".responseClasses");
            for (int j = 0; j < classes.size(); j++) {
                String cat = at + ".responseClasses[" + j + "]";
                Map<String, Object> c = map(classes.get(j), cat);
                rb.addResponseClasses(ResponseClass.newBuilder()
                        .setCondition(response(map(c.get("condition"), cat + ".condition"), cat + ".condition"))
                        .setIsFailure(Boolean.TRUE.equals(c.get("isFailure"))));
            }
            b.addRoutes(rb);
        }
        RetryBudget.Builder budget = RetryBudget.newBuilder().setRetryRatio(0.2f).setMinRetriesPerSecond(10)
                .setTtlMillis(10_000);
        if (spec.get("retryBudget") != null) {
            Map<String, Object> rb = map(spec.get("retryBudget"), "spec.retryBudget");
            if (rb.get("retryRatio") != null) {
                double ratio = ((Number) rb.get("retryRatio")).doubleValue();
                if (ratio < 0) {
                    throw new InvalidProfile("spec.retryBudget.retryRatio must not be negative");
                }
                budget.setRetryRatio((float) ratio);
            }
            if (rb.get("minRetriesPerSecond") != null) {
                budget.setMinRetriesPerSecond(((Number) rb.get("minRetriesPerSecond")).intValue());
            }
            if (rb.get("ttl") != null) {
                budget.setTtlMillis(duration(String.valueOf(rb.get("ttl")), "spec.retryBudget.ttl"));
            }
        }
        b.setRetryBudget(budget);
        List<Object> dsts = list(spec.get("dstOverrides"), "spec.dstOverrides");
        for (int i = 0; i < dsts.size(); i++) {
            String at = "spec.dstOverrides[" + i + "]";
            Map<String, Object> d = map(dsts.get(i), at);
            b.addDstOverrides(WeightedDst.newBuilder().setAuthority(str(d.get("authority"), at + ".authority"))
                    .setWeight(milli(String.valueOf(d.get("weight")), at + ".weight")));
        }
        for (Object p : list(spec.get("opaquePorts"), "spec.opaquePorts")) {
            b.addOpaquePorts(Integer.parseInt(String.valueOf(p)));
        }
        return b.build();
    }

    private static RequestMatch request(Map<String, Object> c, String at) throws InvalidProfile {
        RequestMatch.Seq.Builder all = RequestMatch.Seq.newBuilder();
        for (Map.Entry<String, Object> e : c.entrySet()) {
            String f = at + "." + e.getKey();
            switch (e.getKey()) {
                case "method" -> all.addMatches(RequestMatch.newBuilder().setMethod(str(e.getValue(), f)));
                case "pathRegex" -> all.addMatches(RequestMatch.newBuilder().setPathRegex(regex(e.getValue(), f)));
                case "all", "any" -> {
                    RequestMatch.Seq.Builder seq = RequestMatch.Seq.newBuilder();
                    List<Object> l = list(e.getValue(), f);
                    for (int i = 0; i < l.size(); i++) {
                        seq.addMatches(request(map(l.get(i), f + "[" + i + "]"), f + "[" + i + "]"));
                    }
                    all.addMatches(e.getKey().equals("all") ? RequestMatch.newBuilder().setAll(seq)
                            : RequestMatch.newBuilder().setAny(seq));
                }
                case "not" -> all.addMatches(RequestMatch.newBuilder().setNot(request(map(e.getValue(), f), f)));
                case "header" -> {
                    Map<String, Object> h = map(e.getValue(), f);
                    HeaderMatch.Builder hb = HeaderMatch.newBuilder().setName(str(h.get("name"), f + ".name"));
                    if (h.get("value") != null) {
                        hb.setExact(String.valueOf(h.get("value")));
                    } else if (h.get("regex") != null) {
                        hb.setRegex(regex(h.get("regex"), f + ".regex"));
                    } else {
                        throw new InvalidProfile(f + " needs value or regex");
                    }
                    all.addMatches(RequestMatch.newBuilder().setHeader(hb));
                }
                default -> throw new InvalidProfile(f + " is not a request condition (method, pathRegex, header, all, "
                        + "any, not)");
            }
        }
        if (all.getMatchesCount() == 1) {
            return all.getMatches(0);
        }
        return RequestMatch.newBuilder().setAll(all).build();
    }

    private static ResponseMatch response(Map<String, Object> c, String at) throws InvalidProfile {
        ResponseMatch.ResponseSeq.Builder all = ResponseMatch.ResponseSeq.newBuilder();
        for (Map.Entry<String, Object> e : c.entrySet()) {
            String f = at + "." + e.getKey();
            switch (e.getKey()) {
                case "status" -> {
                    Map<String, Object> s = map(e.getValue(), f);
                    int min = s.get("min") == null ? 100 : ((Number) s.get("min")).intValue();
                    int max = s.get("max") == null ? 599 : ((Number) s.get("max")).intValue();
                    if (min > max) {
                        throw new InvalidProfile(f + ": min " + min + " is greater than max " + max);
                    }
                    all.addMatches(ResponseMatch.newBuilder().setStatus(HttpStatusRange.newBuilder().setMin(min).setMax(max)));
                }
                case "all", "any" -> {
                    ResponseMatch.ResponseSeq.Builder seq = ResponseMatch.ResponseSeq.newBuilder();
                    List<Object> l = list(e.getValue(), f);
                    for (int i = 0; i < l.size(); i++) {
                        seq.addMatches(response(map(l.get(i), f + "[" + i + "]"), f + "[" + i + "]"));
                    }
                    all.addMatches(e.getKey().equals("all") ? ResponseMatch.newBuilder().setAll(seq)
                            : ResponseMatch.newBuilder().setAny(seq));
                }
                case "not" -> all.addMatches(ResponseMatch.newBuilder().setNot(response(map(e.getValue(), f), f)));
                default -> throw new InvalidProfile(f + " is not a response condition (status, all, any, not)");
            }
        }
        if (all.getMatchesCount() == 1) {
            return all.getMatches(0);
        }
        return ResponseMatch.newBuilder().setAll(all).build();
    }

    private static String regex(Object v, String at) throws InvalidProfile {
        String s = str(v, at);
        try {
            Pattern.compile(s);
        } catch (PatternSyntaxException e) {
            throw new InvalidProfile(at + ": the regular expression '" + s + "' does not compile: " + e.getDescription());
        }
        return s;
    }

    /** Go-style durations: "10s", "250ms", "1m30s", "1.5s". */
    static long duration(String s, String at) throws InvalidProfile {
        var m = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(ns|us|µs|ms|s|m|h)").matcher(s);
        long nanos = 0;
        int end = 0;
        while (m.find() && m.start() == end) {
            double v = Double.parseDouble(m.group(1));
            long unit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "us", "µs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            nanos += (long) (v * unit);
            end = m.end();
        }
        if (end == 0 || end != s.length()) {
            throw new InvalidProfile(at + ": '" + s + "' is not a duration such as 250ms, 10s or 1m30s");
        }
        return nanos / 1_000_000L;
    }

    /** Kubernetes quantities as thousandths: "500m" → 500, "1" → 1000, "0.5" → 500. */
    static int milli(String s, String at) throws InvalidProfile {
        try {
            BigDecimal v = s.endsWith("m") ? new BigDecimal(s.substring(0, s.length() - 1))
                    : new BigDecimal(s).multiply(BigDecimal.valueOf(1000));
            if (v.signum() < 0) {
                throw new InvalidProfile(at + ": weight must not be negative");
            }
            return v.intValue();
        } catch (NumberFormatException e) {
            throw new InvalidProfile(at + ": '" + s + "' is not a quantity such as 500m or 1");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o, String at) throws InvalidProfile {
        if (o == null) {
            return Map.of();
        }
        if (!(o instanceof Map)) {
            throw new InvalidProfile(at + " must be an object");
        }
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o, String at) throws InvalidProfile {
        if (o == null) {
            return List.of();
        }
        if (!(o instanceof List)) {
            throw new InvalidProfile(at + " must be a list");
        }
        return (List<Object>) o;
    }

    private static String str(Object o, String at) throws InvalidProfile {
        if (o == null || String.valueOf(o).isEmpty()) {
            throw new InvalidProfile(at + " is required");
        }
        return String.valueOf(o);
    }
}
