package dev.hypha.proxy.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A TLS connection's allocator: codec buffers are heap arrays, buffers for the socket and the TLS library come from
 * the pooled allocator the channel had.
 */
class MeshAllocatorTest {
    @Test
    void codecBuffersAreHeapAndIoBuffersArePooledDirect() {
        PooledByteBufAllocator pooled = new PooledByteBufAllocator(true);
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(pooled);
        MeshAllocator.install(ch);
        ByteBufAllocator a = ch.alloc();
        assertTrue(a instanceof MeshAllocator, "the channel's allocator is replaced: " + a);
        assertTrue(a.isDirectBufferPooled());

        ByteBuf codec = a.buffer(9);
        ByteBuf grown = a.buffer();
        ByteBuf io = a.ioBuffer(1024);
        ByteBuf direct = a.directBuffer(64);
        try {
            assertFalse(codec.isDirect(), "what a codec asks for is a heap buffer");
            assertTrue(codec.hasArray());
            // a codec buffer grows like any other (the TLS handler's write queue appends to the first one)
            byte[] big = "x".repeat(20_000).getBytes(StandardCharsets.US_ASCII);
            codec.writeBytes(big);
            assertEquals(big.length, codec.readableBytes());
            assertFalse(grown.isDirect());
            // unsized (a header block): small at first, growing as far as the caller writes
            assertEquals(MeshAllocator.UNSIZED, grown.capacity());
            grown.writeBytes(big, 0, 300);
            assertEquals(300, grown.readableBytes());

            assertTrue(io.isDirect(), "socket reads need direct memory");
            assertTrue(direct.isDirect(), "the TLS library needs direct memory");
            long before = pooled.metric().usedDirectMemory();
            assertTrue(before > 0, "the direct buffers come from the channel's pooled allocator");
        } finally {
            assertTrue(codec.release());
            assertTrue(grown.release());
            assertTrue(io.release());
            assertTrue(direct.release());
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void installingTwiceKeepsOneLayer() {
        EmbeddedChannel ch = new EmbeddedChannel();
        MeshAllocator.install(ch);
        ByteBufAllocator first = ch.alloc();
        MeshAllocator.install(ch);
        assertSame(first, ch.alloc());
        ByteBuf io = first.ioBuffer(16);
        try {
            // over the default allocator the direct side is the default's (pooled unless configured otherwise)
            assertEquals(ByteBufAllocator.DEFAULT.isDirectBufferPooled(), first.isDirectBufferPooled());
            assertTrue(io.isDirect());
        } finally {
            io.release();
            ch.finishAndReleaseAll();
        }
    }
}
