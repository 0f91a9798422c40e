package dev.hypha.proxy.detect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DetectionTest {
    static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    static Protocol detect(String s) {
        ByteBuf b = ascii(s);
        try {
            return ProtocolDetector.detect(b);
        } finally {
            b.release();
        }
    }

    @Test
    void http1RequestLines() {
        assertEquals(Protocol.HTTP1, detect("GET / HTTP/1.1\r\n"));
        assertEquals(Protocol.HTTP1, detect("POST /a?b=c HTTP/1.0\r\nHost: x\r\n"));
        assertEquals(Protocol.HTTP1, detect("OPTIONS * HTTP/1.1\r\n"));
        assertEquals(Protocol.HTTP1, detect("GET http://a.b/c HTTP/1.1\r\n"));
    }

    @Test
    void everyPrefixOfARequestLineNeedsMore() {
        String line = "GET /path HTTP/1.1\r";
        for (int i = 1; i <= line.length(); i++) {
            assertEquals(Protocol.NEED_MORE, detect(line.substring(0, i)), "prefix of length " + i);
        }
    }

    @Test
    void http2PrefaceAndItsPrefixes() {
        String preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        assertEquals(Protocol.HTTP2, detect(preface));
        for (int i = 1; i < preface.length(); i++) {
            assertEquals(Protocol.NEED_MORE, detect(preface.substring(0, i)), "prefix of length " + i);
        }
    }

    @Test
    void notHttpIsOpaque() {
        assertEquals(Protocol.OPAQUE, detect("SSH-2.0-OpenSSH_9.6\r\n"));
        assertEquals(Protocol.OPAQUE, detect("*1\r\n$4\r\nPING\r\n"));            // redis
        assertEquals(Protocol.OPAQUE, detect("GET / HTTP/2.0\r\n"));
        assertEquals(Protocol.OPAQUE, detect("GET  / HTTP/1.1\r\n"));
        assertEquals(Protocol.OPAQUE, detect("GET /\u0001 HTTP/1.1\r\n"));
        assertEquals(Protocol.OPAQUE, detect("\u0000\u0000\u0000\u0001"));
        assertEquals(Protocol.OPAQUE, detect("GET / HTTP/1.1\rX"));
        assertEquals(Protocol.OPAQUE, detect("A".repeat(ProtocolDetector.MAX_PEEK + 10)));
    }

    /** A real ClientHello, as the mesh client and an application TLS client send it. */
    static ByteBuf clientHello(String sni, String... alpn) throws Exception {
        SslContext ctx = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                .applicationProtocolConfig(alpn.length == 0 ? ApplicationProtocolConfig.DISABLED
                        : new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, alpn))
                .build();
        EmbeddedChannel ch = new EmbeddedChannel(ctx.newHandler(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT,
                sni, 443));
        ByteBuf out = Unpooled.buffer();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.writeBytes(b);
            b.release();
        }
        ch.finishAndReleaseAll();
        return out;
    }

    @Test
    void clientHelloNamesSniAndAlpn() throws Exception {
        ByteBuf hello = clientHello("b.ns.serviceaccount.identity.cluster.local", "hypha.dev/mesh-1");
        try {
            assertEquals(Protocol.TLS, ProtocolDetector.detect(hello));
            ClientHello.Result r = ClientHello.parse(hello);
            assertEquals(ClientHello.Status.COMPLETE, r.status());
            assertEquals("b.ns.serviceaccount.identity.cluster.local", r.hello().serverName());
            assertEquals(List.of("hypha.dev/mesh-1"), r.hello().alpn());
            for (int i = 1; i < hello.readableBytes(); i++) {
                assertEquals(ClientHello.Status.NEED_MORE, ClientHello.parse(hello.slice(0, i)).status(),
                        "prefix of length " + i);
            }
        } finally {
            hello.release();
        }
    }

    @Test
    void applicationTlsHasNoMeshAlpn() throws Exception {
        ByteBuf hello = clientHello("example.com", "h2", "http/1.1");
        try {
            ClientHello.Result r = ClientHello.parse(hello);
            assertEquals(List.of("h2", "http/1.1"), r.hello().alpn());
        } finally {
            hello.release();
        }
    }

    @Test
    void handlerDecidesOnFragmentedInputAndPassesTheBytesOn() {
        AtomicReference<Protocol> got = new AtomicReference<>();
        AtomicReference<String> bytes = new AtomicReference<>();
        EmbeddedChannel ch = new EmbeddedChannel(new DetectHandler(Duration.ofSeconds(5), (ctx, p, hello, peeked) -> {
            got.set(p);
            bytes.set(peeked.toString(StandardCharsets.US_ASCII));
            return peeked;
        }));
        for (String part : new String[] {"G", "ET /x", " HTT", "P/1.1\r", "\nHost: a\r\n\r\n"}) {
            ch.writeInbound(ascii(part));
        }
        assertEquals(Protocol.HTTP1, got.get());
        assertEquals("GET /x HTTP/1.1\r\n", bytes.get().substring(0, 17));
        ByteBuf passed = ch.readInbound();
        assertNotNull(passed, "peeked bytes must reach the next handler");
        assertTrue(passed.toString(StandardCharsets.US_ASCII).startsWith("GET /x HTTP/1.1"));
        passed.release();
        assertTrue(ch.pipeline().get(DetectHandler.class) == null, "detector removes itself");
        ch.finishAndReleaseAll();
    }

    @Test
    void silentClientIsOpaqueAfterTheTimeout() throws Exception {
        AtomicReference<Protocol> got = new AtomicReference<>();
        EmbeddedChannel ch = new EmbeddedChannel(new DetectHandler(Duration.ofMillis(50), (ctx, p, hello, peeked) -> {
            got.set(p);
            peeked.release();
            return null;
        }));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (got.get() == null && System.nanoTime() < deadline) {
            Thread.sleep(10);
            ch.runPendingTasks();
        }
        assertEquals(Protocol.OPAQUE, got.get());
        ch.finishAndReleaseAll();
    }
}
