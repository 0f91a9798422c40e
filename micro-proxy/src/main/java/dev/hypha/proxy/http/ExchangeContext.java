package dev.hypha.proxy.http;

import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.transport.ConnectionTracker;

/** What every exchange of one direction shares: how to route, where to connect, what to record. */
public record ExchangeContext(Router router, Upstreams upstreams, ProxyMetrics metrics, ConnectionTracker tracker,
        int maxInitialLineBytes, int maxHeaderBytes) {
}
