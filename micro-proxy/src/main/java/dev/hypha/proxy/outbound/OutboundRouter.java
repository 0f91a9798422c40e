package dev.hypha.proxy.outbound;

import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.config.MeshDestination;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.http.ConnContext;
import dev.hypha.proxy.http.HeaderRules;
import dev.hypha.proxy.http.ProxyError;
import dev.hypha.proxy.http.Router;
import dev.hypha.proxy.http.UpstreamTarget;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import java.net.URI;

/**
 * Outbound routing: the destination is the original destination (transparent mode) or the request's authority
 * (explicit mode). A destination listed as meshed is reached over mTLS through its proxy, HTTP/1 carried over the
 * shared HTTP/2 connection (upgrades excepted); anything else goes straight to the destination in plain text.
 */
public final class OutboundRouter implements Router {
    private final ProxyConfig config;

    public OutboundRouter(ProxyConfig config) {
        this.config = config;
    }

    @Override
    public UpstreamTarget route(HttpRequest req, ConnContext conn, boolean downstreamIsH2) throws RouteException {
        normalizeTarget(req);
        String authority = req.headers().get(HttpHeaderNames.HOST);
        HostPort dst;
        if (config.mode() == ProxyConfig.Mode.TRANSPARENT && conn.origDst() != null) {
            dst = conn.origDst();
        } else {
            dst = HostPort.fromAuthority(authority, 80);
            if (dst == null) {
                throw new RouteException(ProxyError.NO_TARGET,
                        authority == null ? "no Host header" : "bad authority '" + authority + "'");
            }
        }
        if (dst.port() == config.outboundListen().port() && isLocal(dst.host())) {
            throw new RouteException(ProxyError.LOOP, dst.toString());
        }
        boolean upgrade = !downstreamIsH2 && HeaderRules.isUpgrade(req);
        String label = authority != null ? authority : dst.toString();
        MeshDestination d = config.destination(dst.toString());
        if (d != null && d.meshed()) {
            return new UpstreamTarget(d.endpoint(), d.identity(), dst.port(),
                    upgrade ? UpstreamTarget.Wire.HTTP1 : UpstreamTarget.Wire.HTTP2, upgrade, label);
        }
        HostPort endpoint = d != null ? d.endpoint() : dst;
        return new UpstreamTarget(endpoint, null, 0,
                downstreamIsH2 ? UpstreamTarget.Wire.HTTP2 : UpstreamTarget.Wire.HTTP1, upgrade, label);
    }

    /** A proxy receives absolute-form targets ({@code GET http://host/path}); the next hop wants origin-form. */
    static void normalizeTarget(HttpRequest req) {
        String uri = req.uri();
        if (uri.startsWith("http://") || uri.startsWith("https://")) {
            try {
                URI u = new URI(uri);
                String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
                req.setUri(u.getRawQuery() == null ? path : path + "?" + u.getRawQuery());
                if (!req.headers().contains(HttpHeaderNames.HOST) && u.getRawAuthority() != null) {
                    req.headers().set(HttpHeaderNames.HOST, u.getRawAuthority());
                }
            } catch (Exception e) {
                // leave it; the upstream will answer 400
            }
        }
    }

    private static boolean isLocal(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1");
    }
}
