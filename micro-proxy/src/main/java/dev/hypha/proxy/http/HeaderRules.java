package dev.hypha.proxy.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Locale;

/** Header handling shared by every hop: hop-by-hop headers (RFC 9110 §7.6.1), mesh headers, body framing. */
public final class HeaderRules {
    /** Carries an HTTP/1 request's original protocol across the proxy-to-proxy HTTP/2 connection. */
    public static final AsciiString ORIG_PROTO = AsciiString.cached("hypha-orig-proto");
    /** Tells the app which mesh identity called it; a client-sent value is always dropped. */
    public static final AsciiString CLIENT_ID = AsciiString.cached("hypha-client-id");

    // AsciiString names: a header map hashes a String name on every lookup, an AsciiString once
    private static final AsciiString[] HOP_BY_HOP = {HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
        HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.PROXY_AUTHORIZATION,
        HttpHeaderNames.TE, HttpHeaderNames.TRAILER, HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.UPGRADE};
    private static final AsciiString H2_STREAM_ID = AsciiString.cached("x-http2-stream-id");
    private static final AsciiString H2_SCHEME = AsciiString.cached("x-http2-scheme");
    private static final AsciiString[] H2_CONVERSION = {H2_STREAM_ID, H2_SCHEME, AsciiString.cached("x-http2-path"),
        AsciiString.cached("x-http2-stream-promise-id"), AsciiString.cached("x-http2-stream-dependency-id"),
        AsciiString.cached("x-http2-stream-weight")};
    private static final AsciiString X_HTTP2 = AsciiString.cached("x-http2-");
    private static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
    private static final String[] STATUS_TEXT = new String[600];

    static {
        for (int i = 100; i < STATUS_TEXT.length; i++) {
            STATUS_TEXT[i] = Integer.toString(i);
        }
    }

    private HeaderRules() {
    }

    /** True for an HTTP/1.1 request that asks to switch protocols (e.g. WebSocket). */
    public static boolean isUpgrade(HttpRequest req) {
        HttpHeaders h = req.headers();
        return h.contains(HttpHeaderNames.UPGRADE)
                && h.containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true);
    }

    /**
     * Removes hop-by-hop headers and any header the Connection header names. For an upgrade request (and its 101
     * response) the {@code Upgrade} header and {@code Connection: upgrade} are kept, since the next hop must see them.
     * {@code TE: trailers} is kept (gRPC needs it end to end).
     */
    public static void stripHopByHop(HttpHeaders h, boolean keepUpgrade) {
        if (!anyHopByHop(h)) {
            return; // the usual message: one pass over its names instead of a look-up per hop-by-hop name
        }
        List<String> named = null;
        for (String v : h.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : v.split(",")) {
                String t = token.trim().toLowerCase(Locale.ROOT);
                if (!t.isEmpty() && !(keepUpgrade && t.equals("upgrade"))) {
                    if (named == null) {
                        named = new ArrayList<>(2);
                    }
                    named.add(t);
                }
            }
        }
        boolean teTrailers = h.containsValue(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS, true);
        String upgrade = keepUpgrade ? h.get(HttpHeaderNames.UPGRADE) : null;
        for (AsciiString name : HOP_BY_HOP) {
            h.remove(name);
        }
        if (named != null) {
            for (String n : named) {
                if (!n.equals("host") && !n.startsWith(":")) {
                    h.remove(n);
                }
            }
        }
        if (teTrailers) {
            h.set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
        if (upgrade != null) {
            h.set(HttpHeaderNames.UPGRADE, upgrade);
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        }
        // Netty's HTTP/2 conversion headers never leave the proxy.
        if (h.contains(H2_STREAM_ID) || h.contains(H2_SCHEME)) {
            for (AsciiString name : H2_CONVERSION) {
                h.remove(name);
            }
        }
    }

    /**
     * Whether any header is hop-by-hop or one of Netty's HTTP/2 conversion headers ({@code x-http2-*}). Any header a
     * Connection header names is only hop-by-hop with a Connection header, which this finds.
     */
    private static boolean anyHopByHop(HttpHeaders h) {
        if (h.isEmpty()) {
            return false;
        }
        Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence();
        while (it.hasNext()) {
            CharSequence n = it.next().getKey();
            int len = n.length();
            switch (len) {
                case 2, 7, 10, 16, 17, 18, 19:
                    for (AsciiString hop : HOP_BY_HOP) {
                        if (hop.length() == len && hop.contentEqualsIgnoreCase(n)) {
                            return true;
                        }
                    }
                    break;
                default:
                    break;
            }
            if (len > X_HTTP2.length() && (n.charAt(0) == 'x' || n.charAt(0) == 'X')
                    && AsciiString.regionMatches(n, true, 0, X_HTTP2, 0, X_HTTP2.length())) {
                return true;
            }
        }
        return false;
    }

    /** Whether a response to this request with this status can carry a body. */
    public static boolean responseHasBody(HttpMethod requestMethod, HttpResponseStatus status) {
        int c = status.code();
        return !(requestMethod.equals(HttpMethod.HEAD) || (c >= 100 && c < 200) || c == 204 || c == 304);
    }

    /**
     * Frames a message for an HTTP/1 hop: keeps Content-Length, else uses chunked encoding when a body follows.
     * Returns false when the body can only be delimited by closing the connection (HTTP/1.0 peer).
     */
    public static boolean frameForHttp1(HttpMessage m, boolean hasBody, boolean peerIsHttp11) {
        if (m instanceof io.netty.handler.codec.http.FullHttpMessage full) {
            // The whole message is here (an HTTP/2 HEADERS frame with END_STREAM, or a proxy-made response).
            m.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            if (full.content().isReadable() || (hasBody && m instanceof HttpResponse)) {
                HttpUtil.setContentLength(m, full.content().readableBytes());
            }
            return true;
        }
        if (!hasBody) {
            m.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            return true;
        }
        if (HttpUtil.isContentLengthSet(m)) {
            m.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            return true;
        }
        if (peerIsHttp11) {
            HttpUtil.setTransferEncodingChunked(m, true);
            return true;
        }
        return false;
    }

    /** The gRPC status of a response head (trailers-only responses carry it there), or null. */
    public static String grpcStatus(HttpResponse r) {
        return r.headers().get(GRPC_STATUS);
    }

    /** A status code as text, without making a new string for the usual codes. */
    public static String statusText(int code) {
        return code >= 100 && code < STATUS_TEXT.length ? STATUS_TEXT[code] : Integer.toString(code);
    }

    public static boolean isGrpc(HttpHeaders h) {
        String ct = h.get(HttpHeaderNames.CONTENT_TYPE);
        return ct != null && ct.startsWith("application/grpc");
    }
}
