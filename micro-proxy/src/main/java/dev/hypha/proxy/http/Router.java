package dev.hypha.proxy.http;

import io.netty.handler.codec.http.HttpRequest;

/** Picks the upstream for a request (outbound: discovery; inbound: the local app). */
@FunctionalInterface
public interface Router {
    /** Thrown when a request cannot be routed; carries the error to answer with. */
    final class RouteException extends Exception {
        private final ProxyError error;

        public RouteException(ProxyError error, String detail) {
            super(detail, null, false, false);
            this.error = error;
        }

        public ProxyError error() {
            return error;
        }
    }

    UpstreamTarget route(HttpRequest request, ConnContext conn, boolean downstreamIsH2) throws RouteException;

    /** The ServiceProfile route of a request (for route metrics, classification and timeouts), or null. */
    default RoutePolicy policy(HttpRequest request, ConnContext conn) {
        return null;
    }

    /** Routes asynchronously (discovery may have to answer first); the default wraps {@link #route}. */
    default io.netty.util.concurrent.Future<UpstreamTarget> routeAsync(HttpRequest request, ConnContext conn,
            boolean downstreamIsH2, io.netty.channel.EventLoop loop) {
        try {
            return loop.newSucceededFuture(route(request, conn, downstreamIsH2));
        } catch (RouteException e) {
            return loop.newFailedFuture(e);
        }
    }
}
