package dev.hypha.proxy.inbound;

import dev.hypha.proxy.tls.MeshHeader;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import java.util.function.BiConsumer;

/** Reads the mesh header that follows the TLS handshake; the bytes after it go to the handlers it installs. */
final class MeshHeaderDecoder extends ByteToMessageDecoder {
    private final BiConsumer<ChannelHandlerContext, MeshHeader> next;
    private final Runnable onInvalid;

    MeshHeaderDecoder(BiConsumer<ChannelHandlerContext, MeshHeader> next, Runnable onInvalid) {
        this.next = next;
        this.onInvalid = onInvalid;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        MeshHeader h;
        try {
            h = MeshHeader.decode(in);
        } catch (MeshHeader.InvalidHeader e) {
            in.skipBytes(in.readableBytes());
            onInvalid.run();
            ctx.close();
            return;
        }
        if (h == null) {
            return;
        }
        next.accept(ctx, h);
        ctx.pipeline().remove(this);
    }
}
