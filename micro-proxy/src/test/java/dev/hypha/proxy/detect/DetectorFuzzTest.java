package dev.hypha.proxy.detect;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.hypha.proxy.http.ExchangeContext;
import dev.hypha.proxy.http.H1ServerHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;

/**
 * Fuzz target for the protocol detector, the ClientHello parser and the HTTP/1 request head decoder the proxy
 * uses. In CI it runs in regression mode over the seeds in {@code DetectorFuzzTestInputs}; run it for real with
 * {@code JAZZER_FUZZ=1 ./mvnw -pl micro-proxy test -Dtest=DetectorFuzzTest}. Any exception is a finding.
 */
class DetectorFuzzTest {
    private static final ExchangeContext LIMITS = new ExchangeContext(null, null, null, null, 8192, 16384);

    @FuzzTest(maxDuration = "30s")
    void detectorAndHttp1Head(byte[] data) {
        ByteBuf b = Unpooled.wrappedBuffer(data);
        try {
            Protocol p = ProtocolDetector.detect(b);
            if (p == null) {
                throw new AssertionError("detector returned null");
            }
            ClientHello.Result r = ClientHello.parse(b);
            if (r.status() == ClientHello.Status.COMPLETE && r.hello() == null) {
                throw new AssertionError("complete without a ClientHello");
            }
            if (b.readerIndex() != 0) {
                throw new AssertionError("peeking must not consume bytes");
            }
        } finally {
            b.release();
        }
        EmbeddedChannel ch = new EmbeddedChannel(H1ServerHandler.codec(LIMITS));
        // feed in two fragments to exercise the decoder's resumption
        int half = data.length / 2;
        ch.writeInbound(Unpooled.wrappedBuffer(data, 0, half));
        ch.writeInbound(Unpooled.wrappedBuffer(data, half, data.length - half));
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (!(o instanceof HttpObject)) {
                ReferenceCountUtil.release(o);
                throw new AssertionError("decoder produced " + o.getClass());
            }
            ReferenceCountUtil.release(o);
        }
        ch.finishAndReleaseAll();
    }
}
