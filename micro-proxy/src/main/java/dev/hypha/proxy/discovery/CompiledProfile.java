package dev.hypha.proxy.discovery;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.HeaderMatch;
import dev.hypha.api.v1.RequestMatch;
import dev.hypha.api.v1.ResponseMatch;
import dev.hypha.api.v1.Route;
import dev.hypha.proxy.http.RoutePolicy;
import io.netty.handler.codec.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** A ServiceProfile compiled for matching: the first route whose condition matches a request wins. */
public final class CompiledProfile {
    private record Compiled(Predicate<HttpRequest> matches, RoutePolicy policy) {
    }

    private final List<Compiled> routes;
    private final List<String> splitAuthorities;
    private final int[] splitCumulative;

    private CompiledProfile(List<Compiled> routes, List<String> splitAuthorities, int[] splitCumulative) {
        this.routes = routes;
        this.splitAuthorities = splitAuthorities;
        this.splitCumulative = splitCumulative;
    }

    /**
     * Traffic split: the authority a request goes to, chosen at random in proportion to the {@code dstOverrides}
     * weights; null when the profile splits nothing (requests go to the service itself).
     */
    public String pickSplit() {
        if (splitAuthorities.isEmpty()) {
            return null;
        }
        int total = splitCumulative[splitCumulative.length - 1];
        if (total <= 0) {
            return null;
        }
        int x = java.util.concurrent.ThreadLocalRandom.current().nextInt(total);
        for (int i = 0; i < splitCumulative.length; i++) {
            if (x < splitCumulative[i]) {
                return splitAuthorities.get(i);
            }
        }
        return splitAuthorities.get(splitAuthorities.size() - 1);
    }

    public static CompiledProfile of(DestinationProfile p) {
        List<Compiled> out = new ArrayList<>(p.getRoutesCount());
        var b = p.getRetryBudget();
        dev.hypha.proxy.http.RetryBudget budget = new dev.hypha.proxy.http.RetryBudget(
                p.hasRetryBudget() ? b.getRetryRatio() : 0.2, p.hasRetryBudget() ? b.getMinRetriesPerSecond() : 10,
                p.hasRetryBudget() && b.getTtlMillis() > 0 ? b.getTtlMillis() : 10_000);
        for (Route r : p.getRoutesList()) {
            List<RoutePolicy.ResponseRule> classes = new ArrayList<>();
            for (var c : r.getResponseClassesList()) {
                classes.add(new RoutePolicy.ResponseRule(response(c.getCondition()), c.getIsFailure()));
            }
            long timeout = r.getTimeoutMillis() > 0 ? r.getTimeoutMillis() : RoutePolicy.DEFAULT_TIMEOUT_MILLIS;
            out.add(new Compiled(request(r.getCondition()), new RoutePolicy(r.getName(), List.copyOf(classes), timeout,
                    r.getIsRetryable(), budget)));
        }
        List<String> split = new ArrayList<>();
        int[] cumulative = new int[p.getDstOverridesCount()];
        int sum = 0;
        for (int i = 0; i < p.getDstOverridesCount(); i++) {
            sum += p.getDstOverrides(i).getWeight();
            cumulative[i] = sum;
            split.add(p.getDstOverrides(i).getAuthority());
        }
        return new CompiledProfile(List.copyOf(out), List.copyOf(split), cumulative);
    }

    /** The route of a request: the first match, else {@code [DEFAULT]}. */
    public RoutePolicy match(HttpRequest req) {
        for (Compiled c : routes) {
            if (c.matches().test(req)) {
                return c.policy();
            }
        }
        return RoutePolicy.defaultRoute();
    }

    static String path(HttpRequest req) {
        String uri = req.uri();
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    static Predicate<HttpRequest> request(RequestMatch m) {
        return switch (m.getMatchCase()) {
            case METHOD -> {
                String method = m.getMethod();
                yield r -> r.method().name().equals(method);
            }
            case PATH_REGEX -> {
                Pattern p = Pattern.compile(m.getPathRegex());
                yield r -> p.matcher(path(r)).matches();
            }
            case HEADER -> header(m.getHeader());
            case ALL -> {
                List<Predicate<HttpRequest>> l = m.getAll().getMatchesList().stream().map(CompiledProfile::request).toList();
                yield r -> l.stream().allMatch(x -> x.test(r));
            }
            case ANY -> {
                List<Predicate<HttpRequest>> l = m.getAny().getMatchesList().stream().map(CompiledProfile::request).toList();
                yield r -> l.stream().anyMatch(x -> x.test(r));
            }
            case NOT -> request(m.getNot()).negate();
            default -> r -> true;
        };
    }

    private static Predicate<HttpRequest> header(HeaderMatch h) {
        // header names are case-insensitive; heads translated from HTTP/2 hold them in lower case
        String name = h.getName().toLowerCase(java.util.Locale.ROOT);
        if (h.getValueCase() == HeaderMatch.ValueCase.REGEX) {
            Pattern p = Pattern.compile(h.getRegex());
            return r -> {
                String v = r.headers().get(name);
                return v != null && p.matcher(v).matches();
            };
        }
        String exact = h.getExact();
        return r -> exact.equals(r.headers().get(name));
    }

    static IntPredicate response(ResponseMatch m) {
        return switch (m.getMatchCase()) {
            case STATUS -> {
                int min = m.getStatus().getMin();
                int max = m.getStatus().getMax();
                yield s -> s >= min && s <= max;
            }
            case ALL -> {
                List<IntPredicate> l = m.getAll().getMatchesList().stream().map(CompiledProfile::response).toList();
                yield s -> l.stream().allMatch(x -> x.test(s));
            }
            case ANY -> {
                List<IntPredicate> l = m.getAny().getMatchesList().stream().map(CompiledProfile::response).toList();
                yield s -> l.stream().anyMatch(x -> x.test(s));
            }
            case NOT -> response(m.getNot()).negate();
            default -> s -> true;
        };
    }
}
