package dev.hypha.proxy.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Why the proxy answered a request itself. Each reason has a fixed status and a stable code that goes into the
 * {@code hypha-proxy-error} response header and the {@code reason} label of {@code hypha_proxy_errors_total}.
 */
public enum ProxyError {
    CONNECT_REFUSED(HttpResponseStatus.BAD_GATEWAY, "connect_refused", "the destination refused the connection"),
    CONNECT_TIMEOUT(HttpResponseStatus.GATEWAY_TIMEOUT, "connect_timeout", "connecting to the destination timed out"),
    ROUTE_TIMEOUT(HttpResponseStatus.GATEWAY_TIMEOUT, "route_timeout",
            "the request took longer than its ServiceProfile route allows"),
    CONNECT_FAILED(HttpResponseStatus.BAD_GATEWAY, "connect_failed", "connecting to the destination failed"),
    DNS_FAILED(HttpResponseStatus.BAD_GATEWAY, "dns_failed", "the destination's host name did not resolve"),
    TLS_IDENTITY_MISMATCH(HttpResponseStatus.BAD_GATEWAY, "tls_identity_mismatch",
            "the destination's proxy proved a different identity than discovery named"),
    TLS_HANDSHAKE_FAILED(HttpResponseStatus.BAD_GATEWAY, "tls_handshake_failed", "the mTLS handshake failed"),
    NO_IDENTITY(HttpResponseStatus.SERVICE_UNAVAILABLE, "no_identity",
            "the destination is meshed but this proxy holds no certificate"),
    UPSTREAM_RESET(HttpResponseStatus.BAD_GATEWAY, "upstream_reset",
            "the destination closed or reset the stream before responding"),
    UPSTREAM_PROTOCOL(HttpResponseStatus.BAD_GATEWAY, "upstream_protocol_error",
            "the destination sent a malformed response"),
    NO_TARGET(HttpResponseStatus.BAD_REQUEST, "no_target", "the request names no destination (missing Host or :authority)"),
    LOOP(HttpResponseStatus.valueOf(508), "loop", "the request would loop back into this proxy"),
    NO_ENDPOINTS(HttpResponseStatus.SERVICE_UNAVAILABLE, "no_endpoints", "the destination has no endpoints"),
    UNAUTHENTICATED(HttpResponseStatus.FORBIDDEN, "unauthenticated",
            "this port requires a mesh identity (mTLS) and the client has none"),
    DENIED(HttpResponseStatus.FORBIDDEN, "denied", "the inbound policy denies this client"),
    SHUTTING_DOWN(HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting_down", "the proxy is shutting down"),
    BAD_REQUEST(HttpResponseStatus.BAD_REQUEST, "bad_request", "the request is malformed"),
    HEADERS_TOO_LARGE(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
            "the request's header section is larger than the proxy accepts"),
    URI_TOO_LONG(HttpResponseStatus.REQUEST_URI_TOO_LONG, "uri_too_long", "the request line is too long");

    public static final String HEADER = "hypha-proxy-error";

    private final HttpResponseStatus status;
    private final String code;
    private final String description;

    ProxyError(HttpResponseStatus status, String code, String description) {
        this.status = status;
        this.code = code;
        this.description = description;
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String code() {
        return code;
    }

    public String description() {
        return description;
    }
}
