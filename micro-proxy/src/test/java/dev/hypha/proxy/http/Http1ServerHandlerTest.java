package dev.hypha.proxy.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.transport.ConnectionTracker;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The downstream HTTP/1 server on an {@link EmbeddedChannel}: requests split at every byte still parse, malformed
 * ones are answered with a 4xx and the connection closes. The router refuses everything, so a parsed request is
 * visible as a 403 with a reason, without any upstream.
 */
class Http1ServerHandlerTest {
    private static final ExchangeContext CX = new ExchangeContext(
            (req, conn, h2) -> {
                throw new Router.RouteException(ProxyError.UNAUTHENTICATED, req.method() + " " + req.uri());
            }, null, new ProxyMetrics(), new ConnectionTracker(), 8192, 4096);

    static EmbeddedChannel channel() {
        ConnContext conn = new ConnContext(ConnContext.Direction.INBOUND, new InetSocketAddress("127.0.0.1", 1),
                null, null, false);
        return new EmbeddedChannel(H1ServerHandler.codec(CX), new H1ServerHandler(CX, conn));
    }

    static String drain(EmbeddedChannel ch) {
        StringBuilder sb = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            sb.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return sb.toString();
    }

    @Test
    void requestSplitAtEveryByteStillParses() {
        String req = "DELETE /p?q=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Long: " + "v".repeat(300) + "\r\n\r\n";
        EmbeddedChannel ch = channel();
        for (byte b : req.getBytes(StandardCharsets.ISO_8859_1)) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
        }
        String out = drain(ch);
        assertTrue(out.startsWith("HTTP/1.1 403"), out);
        assertTrue(out.contains("hypha-proxy-error: unauthenticated"), out);
        assertTrue(out.contains("DELETE /p?q=1"), "the request line was parsed whole: " + out);
        assertTrue(ch.isOpen(), "a complete request without a body keeps the connection");
        ch.finishAndReleaseAll();
    }

    @Test
    void malformedRequestsGetA4xxAndClose() {
        String[][] cases = {
            {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
            {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400"},
            {"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + "b".repeat(5000) + "\r\n\r\n", "431"},
            {"GET /" + "u".repeat(9000) + " HTTP/1.1\r\n\r\n", "414"},
            {"GET / HTTP/1.1\r\nBad Header\r\n\r\n", "400"},
            {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n", "400"},
            // RFC 9112 section 3.2: a request with more than one Host header gets 400 (which one is meant?)
            {"GET / HTTP/1.1\r\nHost: 127.0.0.1:4140\r\nhost: svc.bench:80\r\n\r\n", "400"},
        };
        for (String[] c : cases) {
            EmbeddedChannel ch = channel();
            byte[] bytes = c[0].getBytes(StandardCharsets.ISO_8859_1);
            int mid = bytes.length / 2;
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, 0, mid));
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, mid, bytes.length - mid));
            String out = drain(ch);
            assertTrue(out.startsWith("HTTP/1.1 " + c[1]), "for " + c[0].substring(0, Math.min(60, c[0].length()))
                    + " got: " + out);
            assertFalse(ch.isOpen(), "connection must close after a malformed request");
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderFromOneBuffer() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(Unpooled.copiedBuffer("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", StandardCharsets.ISO_8859_1));
        String out = drain(ch);
        int a = out.indexOf("GET /1");
        int b = out.indexOf("GET /2");
        int c = out.indexOf("GET /3");
        assertTrue(a >= 0 && a < b && b < c, out);
        assertEquals(3, out.split("HTTP/1.1 403", -1).length - 1, out);
        ch.finishAndReleaseAll();
    }
}
