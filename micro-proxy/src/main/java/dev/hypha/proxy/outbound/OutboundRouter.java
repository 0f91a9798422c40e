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
import dev.hypha.proxy.balance.Balancer;
import dev.hypha.proxy.balance.Endpoint;
import dev.hypha.proxy.discovery.DestinationClient;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.URI;
import java.util.List;

/**
 * Outbound routing: the destination is the original destination (transparent mode) or the request's authority
 * (explicit mode). A destination listed as meshed is reached over mTLS through its proxy, HTTP/1 carried over the
 * shared HTTP/2 connection (upgrades excepted); anything else goes straight to the destination in plain text.
 */
public final class OutboundRouter implements Router {
    private final ProxyConfig config;
    private final DestinationClient discovery;

    public OutboundRouter(ProxyConfig config) {
        this(config, null);
    }

    private final dev.hypha.proxy.discovery.ProfileClient profiles;

    public OutboundRouter(ProxyConfig config, DestinationClient discovery) {
        this(config, discovery, null);
    }

    public OutboundRouter(ProxyConfig config, DestinationClient discovery,
            dev.hypha.proxy.discovery.ProfileClient profiles) {
        this.config = config;
        this.discovery = discovery;
        this.profiles = profiles;
    }

    @Override
    public dev.hypha.proxy.http.RoutePolicy policy(HttpRequest req, ConnContext conn) {
        if (profiles == null) {
            return null;
        }
        normalizeTarget(req);
        try {
            var p = profiles.current(destinationOf(req, conn).toString());
            return p == null ? dev.hypha.proxy.http.RoutePolicy.defaultRoute() : p.match(req);
        } catch (RouteException e) {
            return null;
        }
    }

    /**
     * With discovery: destinations in the static table keep their entry; any other authority is resolved through
     * {@code Destination.Get}. Endpoints → balanced (P2C over peak-EWMA); a service that does not exist → straight to
     * the destination as addressed; a service with no endpoints → 503 {@code no_endpoints}.
     */
    @Override
    public Future<UpstreamTarget> routeAsync(HttpRequest req, ConnContext conn, boolean downstreamIsH2,
            EventLoop loop) {
        UpstreamTarget direct;
        String dst;
        try {
            normalizeTarget(req);
            HostPort to = destinationOf(req, conn);
            direct = routeTo(req, to, downstreamIsH2);
            dst = to.toString();
        } catch (RouteException e) {
            return loop.newFailedFuture(e);
        }
        if (discovery == null || direct.meshed() || config.destination(dst) != null) {
            return loop.newSucceededFuture(direct);
        }
        if (profiles != null) {
            var profile = profiles.current(dst);
            String split = profile == null ? null : profile.pickSplit();
            if (split != null) {
                dst = split; // traffic split: this request goes to the chosen backend service
            }
        }
        String target = dst;
        Promise<UpstreamTarget> p = loop.newPromise();
        Future<DestinationClient.Resolution> r = discovery.resolve(target, loop);
        r.addListener(x -> {
            if (!r.isSuccess()) {
                p.tryFailure(new RouteException(ProxyError.NO_ENDPOINTS, r.cause().getMessage()));
                return;
            }
            DestinationClient.Resolution res = r.getNow();
            if (!res.exists() && res.endpoints().isEmpty()) {
                p.trySuccess(direct); // unknown to the mesh: go where the app was going
                return;
            }
            UpstreamTarget t = balanced(res.endpoints(), null, direct);
            if (t != null) {
                p.trySuccess(t);
                return;
            }
            // No usable endpoint now: wait (at most the fail-fast timeout) for one to appear or recover.
            Future<DestinationClient.Resolution> later = discovery.awaitChange(target, loop, config.failFastTimeout());
            later.addListener(y -> {
                DestinationClient.Resolution r2 = later.isSuccess() ? later.getNow() : res;
                UpstreamTarget t2 = balanced(r2.endpoints(), null, direct);
                if (t2 != null) {
                    p.trySuccess(t2);
                } else {
                    p.tryFailure(new RouteException(ProxyError.NO_ENDPOINTS, r2.endpoints().isEmpty()
                            ? target + " has had no endpoints for " + config.failFastTimeout().toMillis() + " ms"
                            : "all " + r2.endpoints().size() + " endpoints of " + target + " are failing"));
                }
            });
        });
        return p;
    }

    /** Picks an endpoint for a TCP connection (balancing connections), or null when none is usable. */
    public UpstreamTarget balancedTcp(List<Endpoint> endpoints, Endpoint avoid, String authority) {
        Endpoint e = Balancer.pick(endpoints, avoid);
        if (e == null) {
            return null;
        }
        boolean meshed = e.identity() != null;
        return new UpstreamTarget(meshed ? e.dialAddress() : e.address(), e.identity(), e.address().port(),
                UpstreamTarget.Wire.HTTP1, true, authority, e, failed -> balancedTcp(endpoints, failed, authority));
    }

    /** A target on a balancer-chosen endpoint (avoiding {@code avoid}), or null when none is available. */
    private UpstreamTarget balanced(List<Endpoint> endpoints, Endpoint avoid, UpstreamTarget direct) {
        Endpoint e = Balancer.pick(endpoints, avoid);
        if (e == null) {
            return null;
        }
        boolean meshed = e.identity() != null;
        UpstreamTarget.Wire wire = meshed ? (direct.dedicated() ? UpstreamTarget.Wire.HTTP1 : UpstreamTarget.Wire.HTTP2)
                : direct.wire();
        return new UpstreamTarget(meshed ? e.dialAddress() : e.address(), e.identity(), e.address().port(), wire,
                direct.dedicated(), direct.authority(), e, failed -> balanced(endpoints, failed, direct));
    }

    /** Where the request is going: the original destination (transparent) or its authority (explicit). */
    private HostPort destinationOf(HttpRequest req, ConnContext conn) throws RouteException {
        if (config.mode() == ProxyConfig.Mode.TRANSPARENT && conn.origDst() != null) {
            return conn.origDst();
        }
        String authority = req.headers().get(HttpHeaderNames.HOST);
        HostPort dst = HostPort.fromAuthority(authority, 80);
        if (dst == null) {
            throw new RouteException(ProxyError.NO_TARGET,
                    authority == null ? "no Host header" : "bad authority '" + authority + "'");
        }
        return dst;
    }

    @Override
    public UpstreamTarget route(HttpRequest req, ConnContext conn, boolean downstreamIsH2) throws RouteException {
        normalizeTarget(req);
        return routeTo(req, destinationOf(req, conn), downstreamIsH2);
    }

    /** The static route to {@code dst}: its table entry, else the destination as addressed. */
    private UpstreamTarget routeTo(HttpRequest req, HostPort dst, boolean downstreamIsH2) throws RouteException {
        String authority = req.headers().get(HttpHeaderNames.HOST);
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
