package dev.hypha.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.EmptyHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.net.URI;
import java.util.Iterator;
import java.util.Map;

/**
 * Translates message heads between HTTP/2 header blocks and HTTP/1 messages, one header at a time, with no
 * intermediate map. Netty's {@code HttpConversionUtil} builds a map of Connection-named headers for every message,
 * adds an {@code x-http2-stream-id} header that the proxy then has to remove again, and validates every name a
 * second time although the decoder that produced it already did; on a sidecar that is a large share of a request's
 * cost.
 *
 * <p>What is checked where: HTTP/2 names and values were checked by the HTTP/2 decoder (Netty validates names;
 * values are checked here, since an HTTP/1 head must never carry CR, LF or NUL that HTTP/2 would carry as bytes);
 * HTTP/1 names and values were checked by the HTTP/1 decoder, names are lower-cased here, and headers that are
 * specific to an HTTP/1 connection (RFC 9113 §8.2.2) are dropped, {@code TE} kept only as {@code trailers}.
 */
final class H2Heads {
    /**
     * Trailers from HTTP/2: names are valid already; values are checked (a CR or LF would split the HTTP/1 message),
     * and names that may not be trailers are refused.
     */
    private static final HttpHeadersFactory FROM_H2_TRAILERS = DefaultHttpHeadersFactory.trailersFactory()
            .withNameValidation(false);
    private static final AsciiString SLASH = AsciiString.cached("/");

    private H2Heads() {
    }

    // ---------------------------------------------------------------- HTTP/2 to HTTP/1

    /**
     * A HEADERS frame's block as the HTTP/1 message it starts: a request or response head (a whole message when the
     * frame ends the stream), an interim 1xx response as a whole message, or, with END_STREAM and no pseudo-headers,
     * trailers as a {@link LastHttpContent}.
     *
     * @throws Http2Exception a block that is no valid message (no :method or :path, a bad :status, a pseudo-header
     *                        that does not belong, a value with CR, LF or NUL)
     */
    static HttpObject message(Http2Headers h, boolean endStream, boolean request, int streamId)
            throws Http2Exception {
        try {
            CharSequence status = h.status();
            if (status != null && interim(status)) {
                // 1xx other than 101: a whole message of its own, the final head follows
                HttpResponseStatus st = status(status, streamId);
                return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, st, Unpooled.EMPTY_BUFFER,
                        adopt(own(h), false, null, streamId), EmptyHttpHeaders.INSTANCE);
            }
            if (endStream && h.method() == null && status == null) {
                HttpHeaders trailers = FROM_H2_TRAILERS.newHeaders();
                copy(h, trailers, streamId);
                return new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, trailers);
            }
            HttpHeaders headers;
            HttpMessage m;
            if (request) {
                CharSequence method = h.method();
                if (method == null) {
                    throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR, "request without :method");
                }
                boolean connect = HttpMethod.CONNECT.asciiName().contentEqualsIgnoreCase(method);
                CharSequence target = connect ? h.authority() : h.path();
                if (target == null) {
                    throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR, "request without %s",
                            connect ? ":authority" : ":path");
                }
                CharSequence authority = h.authority();
                HttpMethod hm = HttpMethod.valueOf(method.toString());
                String uri = target.toString();
                headers = adopt(own(h), true, authority, streamId);
                m = endStream
                        ? new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, hm, uri, Unpooled.EMPTY_BUFFER, headers,
                                EmptyHttpHeaders.INSTANCE)
                        : new DefaultHttpRequest(HttpVersion.HTTP_1_1, hm, uri, headers);
            } else {
                if (status == null) {
                    throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR, "response without :status");
                }
                HttpResponseStatus st = status(status, streamId);
                headers = adopt(own(h), false, null, streamId);
                m = endStream
                        ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, st, Unpooled.EMPTY_BUFFER, headers,
                                EmptyHttpHeaders.INSTANCE)
                        : new DefaultHttpResponse(HttpVersion.HTTP_1_1, st, headers);
            }
            if (!endStream && (status == null || !noContent(status))
                    && !headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
                // the body is delimited by END_STREAM; as an HTTP/1 message it is chunked unless a length is known
                headers.add(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            }
            return m;
        } catch (IllegalArgumentException e) {
            // a value the HTTP/1 side refuses (CR, LF, NUL), a method that is no token
            throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR, e,
                    "HTTP/2 head not valid as HTTP/1: %s", e.getMessage());
        }
    }

    /** A DATA frame's bytes as body content (the last when the frame ends the stream); takes over the buffer. */
    static HttpContent content(ByteBuf data, boolean endStream) {
        return endStream ? new DefaultLastHttpContent(data, EmptyHttpHeaders.INSTANCE) : new DefaultHttpContent(data);
    }

    /** The block as a map {@link #adopt} can take over: Netty's decoder makes one; any other is copied into one. */
    private static DefaultHttp2Headers own(Http2Headers h) {
        if (h instanceof DefaultHttp2Headers d) {
            return d;
        }
        DefaultHttp2Headers copy = new DefaultHttp2Headers(false, h.size());
        copy.add(h);
        return copy;
    }

    /**
     * A block's own map as the HTTP/1 head's headers, without copying it: its names are lower case and were validated
     * by the HTTP/2 decoder; here its values are checked as an HTTP/1 head needs them, the pseudo-headers are removed
     * (the request or status line carries them; a request's {@code authority} becomes Host, written first), cookie
     * crumbs are joined and framing headers dropped, as {@link #copy} does. Look-ups in such headers must use
     * lower-case names ({@link HttpHeaderNames}), as HTTP/2 names are; a name added must be lower case too (the map
     * refuses others).
     */
    private static HttpHeaders adopt(DefaultHttp2Headers h, boolean request, CharSequence authority, int streamId)
            throws Http2Exception {
        int cookies = 0;
        boolean framing = false;
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            CharSequence name = e.getKey();
            int bad = HttpHeaderValidationUtil.validateValidHeaderValue(e.getValue());
            if (bad != -1) {
                throw new IllegalArgumentException("the value of " + name + " has a prohibited character 0x"
                        + Integer.toHexString(e.getValue().charAt(bad)) + " at index " + bad);
            }
            if (pseudo(name, request, streamId)) {
                continue;
            }
            if (HttpHeaderNames.COOKIE.contentEquals(name)) {
                cookies++;
            } else if (HttpHeaderNames.TRANSFER_ENCODING.contentEquals(name)
                    || HttpHeaderNames.TRAILER.contentEquals(name)) {
                framing = true;
            }
        }
        if (request) {
            h.remove(Http2Headers.PseudoHeaderName.METHOD.value());
            h.remove(Http2Headers.PseudoHeaderName.PATH.value());
            h.remove(Http2Headers.PseudoHeaderName.SCHEME.value());
            h.remove(Http2Headers.PseudoHeaderName.AUTHORITY.value());
        } else {
            h.remove(Http2Headers.PseudoHeaderName.STATUS.value());
        }
        if (framing) {
            h.remove(HttpHeaderNames.TRANSFER_ENCODING);
            h.remove(HttpHeaderNames.TRAILER);
        }
        if (cookies > 1) {
            StringBuilder joined = new StringBuilder();
            for (CharSequence c : h.getAll(HttpHeaderNames.COOKIE)) {
                if (joined.length() > 0) {
                    joined.append("; ");
                }
                joined.append(c);
            }
            h.set(HttpHeaderNames.COOKIE, joined.toString());
        }
        if (authority != null) {
            if (h.contains(HttpHeaderNames.HOST)) {
                h.add(HttpHeaderNames.HOST, authority); // with a Host of its own too: both go on, for the app to refuse
            } else {
                h.set(HttpHeaderNames.HOST, authority);
            }
        }
        return new Http2Backed(h, request);
    }

    /**
     * HTTP/1 headers whose map is an HTTP/2 block's (names lower case, looked up case-sensitively). A request's Host
     * is written first, as HTTP/1 clients do (it was added last: the block carried it as :authority).
     */
    private static final class Http2Backed extends DefaultHttpHeaders {
        private final boolean hostFirst;

        Http2Backed(DefaultHttp2Headers h, boolean hostFirst) {
            super(h);
            this.hostFirst = hostFirst;
        }

        @Override
        public Iterator<Map.Entry<CharSequence, CharSequence>> iteratorCharSequence() {
            return hostFirst ? new HostFirst() : super.iteratorCharSequence();
        }

        /** The Host entries, then the others: two walks over the map, nothing copied. */
        private final class HostFirst implements Iterator<Map.Entry<CharSequence, CharSequence>> {
            private Iterator<Map.Entry<CharSequence, CharSequence>> walk = Http2Backed.super.iteratorCharSequence();
            private boolean second;
            private Map.Entry<CharSequence, CharSequence> next;

            HostFirst() {
                advance();
            }

            private void advance() {
                next = null;
                while (true) {
                    while (walk.hasNext()) {
                        Map.Entry<CharSequence, CharSequence> e = walk.next();
                        if (HttpHeaderNames.HOST.contentEquals(e.getKey()) != second) {
                            next = e;
                            return;
                        }
                    }
                    if (second) {
                        return;
                    }
                    second = true;
                    walk = Http2Backed.super.iteratorCharSequence();
                }
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public Map.Entry<CharSequence, CharSequence> next() {
                Map.Entry<CharSequence, CharSequence> e = next;
                if (e == null) {
                    throw new java.util.NoSuchElementException();
                }
                advance();
                return e;
            }
        }
    }

    /**
     * Copies the regular headers of a trailers block to HTTP/1 trailers (whose own checks refuse names that may not
     * be trailers): cookie crumbs joined into one header (RFC 9113 §8.2.3), framing headers dropped. A pseudo-header
     * other than :status is an error.
     */
    private static void copy(Http2Headers in, HttpHeaders out, int streamId) throws Http2Exception {
        StringBuilder cookies = null;
        for (Map.Entry<CharSequence, CharSequence> e : in) {
            CharSequence name = e.getKey();
            if (pseudo(name, false, streamId)) {
                continue;
            }
            if (HttpHeaderNames.COOKIE.contentEquals(name)) {
                if (cookies == null) {
                    cookies = new StringBuilder(e.getValue().length());
                } else {
                    cookies.append("; ");
                }
                cookies.append(e.getValue());
            } else if (!HttpHeaderNames.TRANSFER_ENCODING.contentEquals(name)
                    && !HttpHeaderNames.TRAILER.contentEquals(name)) {
                out.add(name, e.getValue());
            }
        }
        if (cookies != null) {
            out.add(HttpHeaderNames.COOKIE, cookies.toString());
        }
    }

    /**
     * Whether {@code name} is a pseudo-header (the message line carries it, not a header).
     *
     * @throws Http2Exception a pseudo-header that does not belong in this kind of message
     */
    private static boolean pseudo(CharSequence name, boolean request, int streamId) throws Http2Exception {
        if (name.length() == 0 || name.charAt(0) != ':') {
            return false;
        }
        if (!knownPseudo(name, request)) {
            throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR,
                    "pseudo-header %s does not belong in a %s", name, request ? "request" : "response");
        }
        return true;
    }

    private static boolean knownPseudo(CharSequence name, boolean request) {
        if (!request) {
            return Http2Headers.PseudoHeaderName.STATUS.value().contentEquals(name);
        }
        return Http2Headers.PseudoHeaderName.METHOD.value().contentEquals(name)
                || Http2Headers.PseudoHeaderName.PATH.value().contentEquals(name)
                || Http2Headers.PseudoHeaderName.AUTHORITY.value().contentEquals(name)
                || Http2Headers.PseudoHeaderName.SCHEME.value().contentEquals(name);
    }

    private static HttpResponseStatus status(CharSequence s, int streamId) throws Http2Exception {
        int code = -1;
        if (s.length() == 3) {
            int a = s.charAt(0) - '0';
            int b = s.charAt(1) - '0';
            int c = s.charAt(2) - '0';
            if (a >= 1 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9) {
                code = a * 100 + b * 10 + c;
            }
        }
        if (code < 100 || code == 101) {
            // 101 has no meaning in HTTP/2 (RFC 9113 §8.6)
            throw Http2Exception.streamError(streamId, Http2Error.PROTOCOL_ERROR, "invalid :status %s", s);
        }
        return HttpResponseStatus.valueOf(code);
    }

    static boolean interim(CharSequence s) {
        return s.length() == 3 && s.charAt(0) == '1' && !(s.charAt(1) == '0' && s.charAt(2) == '1');
    }

    /** 204 and 304 never have a body. */
    private static boolean noContent(CharSequence s) {
        return s.length() == 3 && (s.charAt(0) == '2' || s.charAt(0) == '3') && s.charAt(1) == '0'
                && s.charAt(2) == '4';
    }

    // ---------------------------------------------------------------- HTTP/1 to HTTP/2

    /**
     * An HTTP/1 head as an HTTP/2 header block: the request line as :method, :scheme ({@code scheme} unless the
     * target is in absolute form), :path and :authority (from Host, else from an absolute target), a status line as
     * :status, then the headers.
     *
     * @throws IllegalArgumentException a request target that is no URI
     */
    static Http2Headers headers(HttpMessage m, String scheme) {
        HttpHeaders in = m.headers();
        DefaultHttp2Headers out = new DefaultHttp2Headers(false, in.size() + 4);
        if (m instanceof HttpRequest req) {
            out.method(req.method().asciiName());
            String uri = req.uri();
            String host = in.get(HttpHeaderNames.HOST);
            if (uri.startsWith("/") || uri.equals("*")) {
                out.path(new AsciiString(uri));
                out.scheme(scheme);
            } else {
                URI target = URI.create(uri); // absolute form (a forward-proxy request)
                String path = target.getRawPath() == null || target.getRawPath().isEmpty() ? "/" : target.getRawPath();
                out.path(target.getRawQuery() == null ? (path.equals("/") ? SLASH : new AsciiString(path))
                        : new AsciiString(path + '?' + target.getRawQuery()));
                out.scheme(target.getScheme() != null ? target.getScheme() : scheme);
                if (host == null || host.isEmpty()) {
                    host = target.getRawAuthority();
                }
            }
            if (host != null) {
                int at = host.indexOf('@'); // the authority carries no user info
                out.authority(at < 0 ? host : host.substring(at + 1));
            }
        } else if (m instanceof HttpResponse r) {
            out.status(r.status().codeAsText());
        }
        copy(in, out);
        return out;
    }

    /** HTTP/1 trailers as an HTTP/2 header block. */
    static Http2Headers trailers(HttpHeaders in) {
        if (in.isEmpty()) {
            return EmptyHttp2Headers.INSTANCE;
        }
        DefaultHttp2Headers out = new DefaultHttp2Headers(false, in.size());
        copy(in, out);
        return out;
    }

    /**
     * Copies HTTP/1 headers to an HTTP/2 block with lower-case names, dropping those specific to an HTTP/1 connection
     * (Host travels as :authority) and keeping {@code TE} only as {@code trailers}.
     */
    private static void copy(HttpHeaders in, Http2Headers out) {
        boolean te = false;
        Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            AsciiString name = AsciiString.of(e.getKey()).toLowerCase();
            if (name.contentEquals(HttpHeaderNames.TE)) {
                te = true;
            } else if (!connectionSpecific(name)) {
                out.add(name, e.getValue());
            }
        }
        if (te && in.containsValue(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS, true)) {
            out.add(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
    }

    private static boolean connectionSpecific(AsciiString n) {
        switch (n.length()) {
            case 4:
                return n.contentEquals(HttpHeaderNames.HOST);
            case 7:
                return n.contentEquals(HttpHeaderNames.UPGRADE);
            case 10:
                return n.contentEquals(HttpHeaderNames.CONNECTION) || n.contentEquals(HttpHeaderNames.KEEP_ALIVE);
            case 16:
                return n.contentEquals(HttpHeaderNames.PROXY_CONNECTION);
            case 17:
                return n.contentEquals(HttpHeaderNames.TRANSFER_ENCODING);
            default:
                return false;
        }
    }
}
