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
        Upstreams inboundUpstreams, dev.hypha.proxy.discovery.DestinationClient discovery,
        dev.hypha.proxy.discovery.ProfileClient profiles) {

    /**
     * Where an accepted connection was going: in transparent mode its SO_ORIGINAL_DST (null, with the connection
     * closed and the failure counted, when it cannot be read); in explicit mode null.
     */
    public dev.hypha.proxy.config.HostPort originalDestination(io.netty.channel.Channel ch, String direction) {
        if (config.mode() != dev.hypha.proxy.config.ProxyConfig.Mode.TRANSPARENT) {
            return null;
        }
        try {
            java.net.InetSocketAddress a = origDst.lookup(ch);
            if (a != null) {
                return dev.hypha.proxy.config.HostPort.of(a);
            }
        } catch (Exception e) {
            java.util.logging.Logger.getLogger(ProxyRuntime.class.getName()).log(java.util.logging.Level.FINE,
                    "{0}: no original destination: {1}", new Object[] {direction, e.getMessage()});
        }
        metrics.proxyErrors.inc(direction, "no_original_destination");
        ch.close();
        return null;
    }
}
