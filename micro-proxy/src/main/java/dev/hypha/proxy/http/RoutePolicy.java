package dev.hypha.proxy.http;

import java.util.List;

/**
 * What a ServiceProfile route says about the requests that match it: its name (the {@code route} metric label),
 * how its responses are classified, and its timeout. The first matching response class decides; with none, a 5xx
 * is a failure; for gRPC a {@code grpc-status} decides over the HTTP status (non-zero: failure).
 */
public record RoutePolicy(String name, List<ResponseRule> classes, long timeoutMillis, boolean retryable,
        RetryBudget budget) {
    public static final String DEFAULT = "[DEFAULT]";
    /** Timeout of a profile route that names none (the default route has no timeout). */
    public static final long DEFAULT_TIMEOUT_MILLIS = 10_000;

    /** A response class: a predicate on the status, and whether matching responses are failures. */
    public record ResponseRule(java.util.function.IntPredicate status, boolean failure) {
    }

    /** The route of requests no profile route matched: no classes, no timeout, no retries. */
    public static final RoutePolicy DEFAULT_ROUTE = new RoutePolicy(DEFAULT, List.of(), 0, false, null);

    public static RoutePolicy defaultRoute() {
        return DEFAULT_ROUTE;
    }

    public boolean isFailure(int status, String grpcStatus) {
        if (grpcStatus != null) {
            return !grpcStatus.equals("0");
        }
        for (ResponseRule r : classes) {
            if (r.status().test(status)) {
                return r.failure();
            }
        }
        return status >= 500 || status == 0;
    }
}
