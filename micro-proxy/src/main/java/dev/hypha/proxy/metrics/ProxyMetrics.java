package dev.hypha.proxy.metrics;

/**
 * Every metric the proxy exports, named per Prometheus rules (base units, {@code _total} counters,
 * {@code _seconds} durations, {@code _bytes} sizes). Recorded once per request / connection.
 * The reference table is in {@code docs/metrics.md}.
 */
public final class ProxyMetrics {
    /** Latency buckets in seconds, 1 ms to 50 s (Linkerd's response_latency_ms buckets, in base units). */
    static final double[] LATENCY_BUCKETS = {0.001, 0.002, 0.003, 0.004, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1,
        0.2, 0.3, 0.4, 0.5, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50};

    public final Registry registry = new Registry();
    /** Exact rolling-window statistics per route and destination (served at {@code /stats}). */
    public final RollingStats stats = new RollingStats(RollingStats.wallAlignedClock(), 2000);
    /** The taps open now (served on the tap port); requests ask it whether anyone taps. */
    public final dev.hypha.proxy.tap.Taps taps = new dev.hypha.proxy.tap.Taps();

    public final Family.Counter httpRequests = registry.counter("hypha_http_requests_total",
            "HTTP requests received by the proxy.", "direction", "authority", "tls", "client_id", "server_id");
    public final Family.Counter httpResponses = registry.counter("hypha_http_responses_total",
            "HTTP responses sent by the proxy, by status and classification.", "direction", "authority", "tls",
            "client_id", "server_id", "status_code", "classification", "error");
    public final Family.Histogram httpLatency = registry.histogram("hypha_http_response_duration_seconds",
            "Time from receiving a request's head to sending the response's head.", LATENCY_BUCKETS,
            "direction", "authority", "tls", "client_id", "server_id", "status_code");
    public final Family.Counter routeRequests = registry.counter("hypha_route_requests_total",
            "HTTP requests by ServiceProfile route (unmatched requests: [DEFAULT]).", "direction", "authority", "route");
    public final Family.Counter routeResponses = registry.counter("hypha_route_responses_total",
            "HTTP responses by ServiceProfile route, classified by the route's response classes.", "direction",
            "authority", "route", "status_code", "classification");
    public final Family.Histogram routeLatency = registry.histogram("hypha_route_response_duration_seconds",
            "Time from a request's head to its response's head, by ServiceProfile route.", LATENCY_BUCKETS,
            "direction", "authority", "route");
    public final Family.Counter routeActualResponses = registry.counter("hypha_route_actual_responses_total",
            "Responses of every try (retries included), by route; hypha_route_responses_total counts what callers saw.",
            "direction", "authority", "route", "status_code", "classification");
    public final Family.Counter routeRetries = registry.counter("hypha_route_retries_total",
            "Retries made, by route and outcome (retried, or skipped: budget_exhausted, not_replayable).",
            "direction", "authority", "route", "outcome");
    public final Family.Counter tcpOpened = registry.counter("hypha_tcp_connections_opened_total",
            "TCP connections accepted (inbound, outbound) or opened to a peer (upstream).", "direction", "tls",
            "peer");
    public final Family.Counter tcpClosed = registry.counter("hypha_tcp_connections_closed_total",
            "TCP connections closed.", "direction", "tls", "peer");
    public final Family.Gauge tcpOpen = registry.gauge("hypha_tcp_open_connections",
            "TCP connections open now.", "direction", "tls", "peer");
    public final Family.Counter tcpRead = registry.counter("hypha_tcp_read_bytes_total",
            "Bytes read from sockets.", "direction", "tls", "peer");
    public final Family.Counter tcpWritten = registry.counter("hypha_tcp_written_bytes_total",
            "Bytes written to sockets.", "direction", "tls", "peer");
    public final Family.Counter proxyErrors = registry.counter("hypha_proxy_errors_total",
            "Errors the proxy answered or closed a connection for, by reason.", "direction", "reason");
    public final Family.Counter detected = registry.counter("hypha_protocol_detections_total",
            "Accepted connections by detected protocol.", "direction", "protocol");
    public final Family.Gauge certExpiry = registry.gauge("hypha_identity_cert_expiration_timestamp_seconds",
            "When the proxy's current leaf certificate expires (Unix time).", "identity");
}
