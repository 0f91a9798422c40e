package dev.hypha.proxy.tls;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.buffer.UnpooledUnsafeHeapByteBuf;
import io.netty.channel.Channel;
import io.netty.util.internal.PlatformDependent;

/**
 * The allocator of a TLS connection: what its codecs allocate ({@link #buffer}, e.g. an HTTP/2 frame's header and its
 * header block) is a plain heap array, and what goes to the socket or the TLS library ({@link #ioBuffer},
 * {@link #directBuffer}) comes from the pooled allocator as before.
 *
 * <p>Why: whatever a handler writes above the TLS handler is copied by it into one buffer per record anyway, so a
 * codec's buffer lives only until the next flush, and a pooled direct buffer costs far more to take and give back
 * (thread cache, size classes, the object pool) than a short-lived array costs the young generation. On the
 * proxies' mesh connections that was two to three pooled buffers per request and side (HEADERS frame header, header
 * block, DATA frame header) and every growth of the TLS handler's write buffer.
 *
 * <p>A buffer asked for without a size (Netty's HTTP/2 frame writer does so for every header block it encodes) starts
 * at {@value #UNSIZED} bytes rather than Netty's 256: once HPACK's tables hold a connection's recurring names and
 * values, a request's or response's block is a few to a few tens of bytes, and a larger block grows like any buffer.
 */
public final class MeshAllocator extends AbstractByteBufAllocator {
    private static final boolean UNSAFE = PlatformDependent.hasUnsafe();
    static final int UNSIZED = 64;
    private final ByteBufAllocator direct;

    private MeshAllocator(ByteBufAllocator direct) {
        super(false);
        this.direct = direct;
    }

    /** Gives {@code ch} this allocator over the one it has (call before adding its TLS handler). */
    public static void install(Channel ch) {
        ByteBufAllocator current = ch.config().getAllocator();
        if (!(current instanceof MeshAllocator)) {
            ch.config().setAllocator(new MeshAllocator(current));
        }
    }

    @Override
    public ByteBuf heapBuffer() {
        return heapBuffer(UNSIZED);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return toLeakAwareBuffer(UNSAFE ? new UnpooledUnsafeHeapByteBuf(this, initialCapacity, maxCapacity)
                : new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return direct.directBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return direct.isDirectBufferPooled();
    }
}
