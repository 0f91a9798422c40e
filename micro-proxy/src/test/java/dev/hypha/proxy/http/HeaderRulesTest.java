package dev.hypha.proxy.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross the proxy; everything else does, untouched. */
class HeaderRulesTest {

    @Test
    void aMessageWithoutHopByHopHeadersIsLeftAsItIs() {
        HttpHeaders h = new DefaultHttpHeaders().add("Host", "a").add("Content-Length", "3").add("X-Trace", "1")
                .add("x-trace", "2").add("Accept", "*/*");
        List<String> before = h.entries().stream().map(Object::toString).toList();
        HeaderRules.stripHopByHop(h, false);
        assertEquals(before, h.entries().stream().map(Object::toString).toList());
        assertEquals(List.of("1", "2"), h.getAll("x-trace"));
    }

    @Test
    void everyHopByHopHeaderGoesWhateverItsCase() {
        for (String name : new String[] {"Connection", "KEEP-ALIVE", "proxy-connection", "Proxy-Authenticate",
            "Proxy-Authorization", "Trailer", "Transfer-Encoding", "Upgrade"}) {
            HttpHeaders h = new DefaultHttpHeaders().add("x-keep", "1").add(name, "v");
            HeaderRules.stripHopByHop(h, false);
            assertNull(h.get(name), name);
            assertEquals("1", h.get("x-keep"), "other headers stay when " + name + " goes");
        }
    }

    @Test
    void headersTheConnectionHeaderNamesGoToo() {
        HttpHeaders h = new DefaultHttpHeaders().add("Connection", "close, X-Secret").add("x-secret", "s")
                .add("x-other", "o");
        HeaderRules.stripHopByHop(h, false);
        assertNull(h.get("x-secret"));
        assertNull(h.get("connection"));
        assertEquals("o", h.get("x-other"));
    }

    @Test
    void teTrailersIsKeptAndAnUpgradeWhenAskedTo() {
        HttpHeaders te = new DefaultHttpHeaders().add("TE", "trailers").add("content-type", "application/grpc");
        HeaderRules.stripHopByHop(te, false);
        assertEquals("trailers", te.get("te"));
        HttpHeaders gzip = new DefaultHttpHeaders().add("TE", "gzip");
        HeaderRules.stripHopByHop(gzip, false);
        assertFalse(gzip.contains("te"));

        HttpHeaders up = new DefaultHttpHeaders().add("Connection", "Upgrade").add("Upgrade", "websocket");
        HeaderRules.stripHopByHop(up, true);
        assertEquals("websocket", up.get("upgrade"));
        assertEquals("upgrade", up.get("connection"));
        HttpHeaders noUp = new DefaultHttpHeaders().add("Connection", "Upgrade").add("Upgrade", "websocket");
        HeaderRules.stripHopByHop(noUp, false);
        assertTrue(noUp.isEmpty());
    }

    @Test
    void nettyConversionHeadersNeverLeaveTheProxy() {
        HttpHeaders h = new DefaultHttpHeaders().add("X-Http2-Stream-Id", "3").add("x-http2-scheme", "https")
                .add("x-http2-path", "/p").add("x-app", "1");
        HeaderRules.stripHopByHop(h, false);
        assertEquals(1, h.size());
        assertEquals("1", h.get("x-app"));
    }
}
