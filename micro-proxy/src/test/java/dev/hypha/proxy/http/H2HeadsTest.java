package dev.hypha.proxy.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The head translation between HTTP/2 blocks and HTTP/1 messages, header by header. */
class H2HeadsTest {

    private static Http2Headers request(String method, String path) {
        Http2Headers h = new DefaultHttp2Headers();
        h.method(method).path(path).scheme("https").authority("svc.ns:8080");
        return h;
    }

    @Test
    void aRequestBlockBecomesAnHttp1RequestWithHostAndChunkedBody() throws Exception {
        Http2Headers h = request("POST", "/items?id=1");
        h.add("accept", "text/plain").add("x-trace", "a").add("x-trace", "b");
        HttpObject o = H2Heads.message(h, false, true, 3);
        HttpRequest r = assertInstanceOf(HttpRequest.class, o);
        assertFalse(o instanceof LastHttpContent, "more DATA follows: a head, not a whole message");
        assertEquals(HttpMethod.POST, r.method());
        assertEquals("/items?id=1", r.uri());
        assertEquals(HttpVersion.HTTP_1_1, r.protocolVersion());
        assertEquals("svc.ns:8080", r.headers().get("host"));
        assertEquals(List.of("a", "b"), r.headers().getAll("x-trace"));
        assertEquals("chunked", r.headers().get("transfer-encoding"), "no content-length: the body is chunked");
        for (String name : r.headers().names()) {
            assertFalse(name.startsWith(":") || name.startsWith("x-http2-"), name + " must not reach HTTP/1");
        }
    }

    @Test
    void aTranslatedRequestIsWrittenWithHostFirstAndNoPseudoHeader() throws Exception {
        Http2Headers h = request("GET", "/a?b=1").add("accept", "*/*").add("x-trace", "t");
        HttpRequest r = (HttpRequest) H2Heads.message(h, true, true, 5);
        r.headers().set(io.netty.handler.codec.http.HttpHeaderNames.CONNECTION, "keep-alive");
        assertEquals("GET /a?b=1 HTTP/1.1\r\nhost: svc.ns:8080\r\naccept: */*\r\nx-trace: t\r\n"
                + "connection: keep-alive\r\n\r\n", http1(new io.netty.handler.codec.http.HttpRequestEncoder(), r));
        Http2Headers badAuthority = new DefaultHttp2Headers(false).method("GET").path("/").scheme("http")
                .authority("a\r\nx-injected: 1");
        assertEquals(Http2Error.PROTOCOL_ERROR,
                assertThrows(Http2Exception.class, () -> H2Heads.message(badAuthority, true, true, 5)).error(),
                "the authority becomes Host: CR/LF refused there too");
    }

    @Test
    void aBlockThatEndsTheStreamIsAWholeMessageWithoutFraming() throws Exception {
        HttpObject o = H2Heads.message(request("GET", "/"), true, true, 5);
        FullHttpRequest r = assertInstanceOf(FullHttpRequest.class, o);
        assertNull(r.headers().get("transfer-encoding"));
        assertTrue(r.trailingHeaders().isEmpty());
        r.release();
    }

    @Test
    void aKnownLengthIsKeptAndNoContentStatusesGetNoFraming() throws Exception {
        Http2Headers h = new DefaultHttp2Headers().status("200").add("content-length", "12");
        HttpResponse r = assertInstanceOf(HttpResponse.class, H2Heads.message(h, false, false, 1));
        assertEquals(HttpResponseStatus.OK, r.status());
        assertEquals("12", r.headers().get("content-length"));
        assertNull(r.headers().get("transfer-encoding"));
        HttpResponse none = (HttpResponse) H2Heads.message(new DefaultHttp2Headers().status("204"), false, false, 1);
        assertNull(none.headers().get("transfer-encoding"), "204 has no body to frame");
    }

    @Test
    void cookieCrumbsAreJoinedForHttp1() throws Exception {
        Http2Headers h = request("GET", "/").add("cookie", "a=1").add("cookie", "b=2").add("cookie", "c=3");
        HttpRequest r = (HttpRequest) H2Heads.message(h, false, true, 1);
        assertEquals(List.of("a=1; b=2; c=3"), r.headers().getAll("cookie"));
    }

    @Test
    void aResponseHeadTakesOverTheBlockAndEncodesAsHttp1() throws Exception {
        Http2Headers h = new DefaultHttp2Headers().status("404").add("content-type", "text/plain")
                .add("set-cookie", "a=1").add("cookie", "x=1").add("cookie", "y=2").add("content-length", "5");
        HttpResponse r = (HttpResponse) H2Heads.message(h, false, false, 1);
        assertEquals(HttpResponseStatus.NOT_FOUND, r.status());
        assertEquals(List.of("x=1; y=2"), r.headers().getAll("cookie"));
        r.headers().set(io.netty.handler.codec.http.HttpHeaderNames.CONNECTION, "close");
        assertEquals("HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nset-cookie: a=1\r\n"
                + "content-length: 5\r\ncookie: x=1; y=2\r\nconnection: close\r\n\r\n",
                http1(new io.netty.handler.codec.http.HttpResponseEncoder(), r), "no pseudo-header reaches HTTP/1");
    }

    /** A head as an HTTP/1 encoder writes it to the wire. */
    private static String http1(io.netty.channel.ChannelHandler encoder, HttpObject head) {
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel(encoder);
        assertTrue(ch.writeOutbound(head));
        io.netty.buffer.ByteBuf wire = ch.readOutbound();
        String text = wire.toString(java.nio.charset.StandardCharsets.US_ASCII);
        wire.release();
        assertFalse(ch.finish(), "one buffer for a head");
        return text;
    }

    @Test
    void framingHeadersFromHttp2AreDropped() throws Exception {
        Http2Headers h = new DefaultHttp2Headers(false).status("200").add("content-length", "3")
                .add("transfer-encoding", "chunked").add("trailer", "grpc-status");
        HttpResponse r = (HttpResponse) H2Heads.message(h, false, false, 1);
        assertNull(r.headers().get("trailer"));
        assertEquals("3", r.headers().get("content-length"));
        assertNull(r.headers().get("transfer-encoding"), "a length is known: the HTTP/1 side frames with it");
    }

    @Test
    void interimResponsesAreWholeMessagesAnd101IsRefused() throws Exception {
        HttpObject o = H2Heads.message(new DefaultHttp2Headers().status("103").add("link", "</a>"), false, false, 1);
        FullHttpResponse interim = assertInstanceOf(FullHttpResponse.class, o);
        assertEquals(103, interim.status().code());
        assertEquals("</a>", interim.headers().get("link"));
        interim.release();
        Http2Exception e = assertThrows(Http2Exception.class,
                () -> H2Heads.message(new DefaultHttp2Headers().status("101"), false, false, 7));
        assertEquals(Http2Error.PROTOCOL_ERROR, e.error());
        assertThrows(Http2Exception.class,
                () -> H2Heads.message(new DefaultHttp2Headers().status("2x0"), false, false, 7));
        assertThrows(Http2Exception.class,
                () -> H2Heads.message(new DefaultHttp2Headers().status("99"), false, false, 7));
    }

    @Test
    void trailersBecomeTheLastContent() throws Exception {
        Http2Headers h = new DefaultHttp2Headers().add("grpc-status", "0").add("grpc-message", "ok");
        LastHttpContent last = assertInstanceOf(LastHttpContent.class, H2Heads.message(h, true, false, 9));
        assertFalse(last instanceof HttpResponse);
        assertEquals("0", last.trailingHeaders().get("grpc-status"));
        assertEquals("ok", last.trailingHeaders().get("grpc-message"));
        last.release();
    }

    @Test
    void blocksThatAreNoMessageAreStreamErrors() {
        Http2Headers noMethod = new DefaultHttp2Headers().path("/").scheme("http");
        Http2Exception e = assertThrows(Http2Exception.class, () -> H2Heads.message(noMethod, false, true, 3));
        assertEquals(Http2Error.PROTOCOL_ERROR, e.error());
        Http2Headers noPath = new DefaultHttp2Headers().method("GET").scheme("http");
        assertThrows(Http2Exception.class, () -> H2Heads.message(noPath, false, true, 3));
        assertThrows(Http2Exception.class,
                () -> H2Heads.message(new DefaultHttp2Headers().add("x", "y"), false, false, 3), "no :status");
        Http2Headers requestPseudoInResponse = new DefaultHttp2Headers(false).status("200").path("/");
        assertThrows(Http2Exception.class, () -> H2Heads.message(requestPseudoInResponse, false, false, 3));
    }

    @Test
    void aValueThatWouldSplitAnHttp1HeadIsRefused() {
        // HPACK carries any octets; CR or LF in an HTTP/1 head would be response splitting
        for (String bad : new String[] {"a\r\nx-injected: 1", "a\nb", "a\0b"}) {
            Http2Headers h = new DefaultHttp2Headers(false).status("200").add("x-v", bad);
            Http2Exception e = assertThrows(Http2Exception.class, () -> H2Heads.message(h, false, false, 1),
                    "value " + bad.replace("\r", "\\r").replace("\n", "\\n"));
            assertEquals(Http2Error.PROTOCOL_ERROR, e.error());
            Http2Headers t = new DefaultHttp2Headers(false).add("x-v", bad);
            assertThrows(Http2Exception.class, () -> H2Heads.message(t, true, false, 1), "in trailers too");
        }
    }

    @Test
    void connectRequestsTakeTheirTargetFromTheAuthority() throws Exception {
        Http2Headers h = new DefaultHttp2Headers().method("CONNECT").authority("db:5432");
        HttpRequest r = (HttpRequest) H2Heads.message(h, false, true, 1);
        assertEquals("db:5432", r.uri());
        assertThrows(Http2Exception.class,
                () -> H2Heads.message(new DefaultHttp2Headers().method("CONNECT"), false, true, 1));
    }

    // ---------------------------------------------------------------- HTTP/1 to HTTP/2

    @Test
    void anHttp1RequestBecomesABlockWithPseudoHeadersFirst() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.PUT, "/a/b?c=d");
        r.headers().add("Host", "user@web.ns:80").add("X-Mixed-Case", "V").add("Content-Type", "text/plain");
        Http2Headers h = H2Heads.headers(r, "http");
        assertEquals("PUT", h.method().toString());
        assertEquals("/a/b?c=d", h.path().toString());
        assertEquals("http", h.scheme().toString());
        assertEquals("web.ns:80", h.authority().toString(), "no user info in :authority");
        assertEquals("V", h.get("x-mixed-case").toString(), "names are lower-cased for HTTP/2");
        assertEquals("text/plain", h.get("content-type").toString());
        assertNull(h.get("host"), "Host travels as :authority");
        boolean regular = false;
        for (var e : h) {
            boolean pseudo = e.getKey().charAt(0) == ':';
            assertFalse(pseudo && regular, "pseudo-headers come first: " + e.getKey());
            regular |= !pseudo;
            assertTrue(AsciiString.of(e.getKey()).toLowerCase().contentEquals(e.getKey()), e.getKey().toString());
        }
    }

    @Test
    void connectionSpecificHeadersNeverReachHttp2() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        r.headers().add("Host", "a").add("Connection", "keep-alive").add("Keep-Alive", "timeout=5")
                .add("Proxy-Connection", "keep-alive").add("Transfer-Encoding", "chunked").add("Upgrade", "h2c")
                .add("TE", "gzip, Trailers").add("x-keep", "1");
        Http2Headers h = H2Heads.headers(r, "https");
        for (String n : new String[] {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
            "upgrade", "host"}) {
            assertNull(h.get(n), n);
        }
        assertEquals("trailers", h.get("te").toString(), "TE is kept only as trailers");
        assertEquals("1", h.get("x-keep").toString());
        // and the block is one Netty's validating HTTP/2 headers accept
        Http2Headers validated = new DefaultHttp2Headers(true);
        for (var e : h) {
            validated.add(e.getKey(), e.getValue());
        }
        HttpRequest noTrailers = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        noTrailers.headers().add("TE", "gzip");
        assertNull(H2Heads.headers(noTrailers, "http").get("te"));
    }

    @Test
    void absoluteAndAsteriskTargets() {
        HttpRequest abs = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "https://web.ns:8443/x?y=1");
        Http2Headers h = H2Heads.headers(abs, "http");
        assertEquals("/x?y=1", h.path().toString());
        assertEquals("https", h.scheme().toString());
        assertEquals("web.ns:8443", h.authority().toString(), "no Host: the authority comes from the target");
        HttpRequest bare = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://web.ns");
        assertEquals("/", H2Heads.headers(bare, "http").path().toString());
        HttpRequest star = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.OPTIONS, "*");
        star.headers().add("host", "web.ns");
        assertEquals("*", H2Heads.headers(star, "http").path().toString());
        HttpRequest bad = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://[bad/");
        assertThrows(IllegalArgumentException.class, () -> H2Heads.headers(bad, "http"));
    }

    @Test
    void responsesAndTrailers() {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND);
        r.headers().add("Content-Length", "0").add("Connection", "close");
        Http2Headers h = H2Heads.headers(r, "http");
        assertEquals("404", h.status().toString());
        assertEquals("0", h.get("content-length").toString());
        assertNull(h.get("connection"));
        assertTrue(H2Heads.trailers(new DefaultHttpHeaders()).isEmpty());
        HttpHeaders t = new DefaultHttpHeaders().add("Grpc-Status", "0");
        assertEquals("0", H2Heads.trailers(t).get("grpc-status").toString());
        assertNull(H2Heads.trailers(t).status());
    }

    @Test
    void aRoundTripKeepsTheRequest() throws Exception {
        FullHttpRequest in = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.DELETE, "/r/1",
                Unpooled.EMPTY_BUFFER);
        in.headers().add("host", "svc:1").add("cookie", "a=1; b=2").add("x-a", "1");
        HttpRequest back = (HttpRequest) H2Heads.message(H2Heads.headers(in, "http"), true, true, 1);
        assertEquals(HttpMethod.DELETE, back.method());
        assertEquals("/r/1", back.uri());
        assertEquals("svc:1", back.headers().get("host"));
        assertEquals("a=1; b=2", back.headers().get("cookie"));
        assertEquals("1", back.headers().get("x-a"));
        ReferenceCountUtil.release(in);
        ReferenceCountUtil.release(back);
    }
}
