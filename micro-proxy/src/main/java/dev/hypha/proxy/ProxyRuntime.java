package dev.hypha.proxy;

import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.http.Upstreams;
import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.tls.CredentialStore;
import dev.hypha.proxy.transport.ConnectionTracker;
import dev.hypha.proxy.transport.OrigDstLookup;
import dev.hypha.proxy.transport.Transports;

/** The handles every part of the proxy shares at run time. Built once in {@link Proxy}. */
public record ProxyRuntime(ProxyConfig config, Transports transports, ProxyMetrics metrics,
        CredentialStore credentials, ConnectionTracker tracker, OrigDstLookup origDst, Upstreams outboundUpstreams,
        Upstreams inboundUpstreams, dev.hypha.proxy.discovery.DestinationClient discovery) {
}
