package dev.hypha.proxy.inbound;

import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.http.ConnContext;
import dev.hypha.proxy.http.HeaderRules;
import dev.hypha.proxy.http.ProxyError;
import dev.hypha.proxy.http.Router;
import dev.hypha.proxy.http.UpstreamTarget;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Inbound routing: every request goes to the local app, on the port the connection was for. HTTP/1 requests that
 * a client proxy carried over HTTP/2 (marked with {@code hypha-orig-proto}) go to the app as HTTP/1 again.
 */
public final class InboundRouter implements Router {
    private final String appHost;
    private final HostPort explicitTarget;
    private final dev.hypha.proxy.discovery.ProfileClient profiles;

    public InboundRouter(String appHost, HostPort explicitTarget) {
        this(appHost, explicitTarget, null);
    }

    public InboundRouter(String appHost, HostPort explicitTarget, dev.hypha.proxy.discovery.ProfileClient profiles) {
        this.appHost = appHost;
        this.explicitTarget = explicitTarget;
        this.profiles = profiles;
    }

    /**
     * Inbound route metrics: the route of the profile of the authority the client addressed. Only for metrics and
     * classification; retries and timeouts are the client side's job.
     */
    @Override
    public dev.hypha.proxy.http.RoutePolicy policy(HttpRequest req, ConnContext conn) {
        if (profiles == null) {
            return null;
        }
        HostPort authority = HostPort.fromAuthority(req.headers().get(HttpHeaderNames.HOST), 80);
        if (authority == null) {
            return null;
        }
        var p = profiles.current(authority.toString());
        var r = p == null ? dev.hypha.proxy.http.RoutePolicy.defaultRoute() : p.match(req);
        return new dev.hypha.proxy.http.RoutePolicy(r.name(), r.classes(), 0, false, null);
    }

    @Override
    public UpstreamTarget route(HttpRequest req, ConnContext conn, boolean downstreamIsH2) throws RouteException {
        HostPort app;
        if (conn.origDst() != null) {
            app = new HostPort(appHost, conn.origDst().port());
        } else if (explicitTarget != null) {
            app = explicitTarget;
        } else {
            throw new RouteException(ProxyError.NO_TARGET, "no original destination and no "
                    + dev.hypha.proxy.config.ConfigParser.INBOUND_TARGET);
        }
        boolean origH1 = req.headers().contains(HeaderRules.ORIG_PROTO);
        boolean upgrade = !downstreamIsH2 && HeaderRules.isUpgrade(req);
        UpstreamTarget.Wire wire = downstreamIsH2 && !origH1 ? UpstreamTarget.Wire.HTTP2 : UpstreamTarget.Wire.HTTP1;
        String authority = req.headers().get(HttpHeaderNames.HOST);
        return new UpstreamTarget(app, null, 0, wire, upgrade, authority == null ? app.toString() : authority);
    }

    /** A router that refuses everything: plain-text clients where the policy requires a mesh identity. */
    public static Router refusing(ProxyError error) {
        return (req, conn, h2) -> {
            throw new RouteException(error, "client " + conn.client());
        };
    }
}
