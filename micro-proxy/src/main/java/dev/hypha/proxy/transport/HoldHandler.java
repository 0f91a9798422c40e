package dev.hypha.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Holds a connection's bytes while its upstream is being connected (bounded: auto-read is off, so at most what
 * handlers before it had already read), then hands them over.
 */
public final class HoldHandler extends ChannelInboundHandlerAdapter {
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>(2);
    private boolean inputEnded;

    public HoldHandler(ByteBuf early) {
        if (early != null) {
            if (early.isReadable()) {
                held.add(early);
            } else {
                early.release();
            }
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            held.add(b);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent
                || evt instanceof io.netty.handler.ssl.SslCloseCompletionEvent) {
            inputEnded = true;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** Writes the held bytes to {@code to} (not flushed), removes itself; returns whether the input had ended. */
    public boolean handOver(ChannelHandlerContext ctx, Channel to) {
        ByteBuf b;
        while ((b = held.poll()) != null) {
            to.write(b);
        }
        ctx.pipeline().remove(this);
        return inputEnded;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        ByteBuf b;
        while ((b = held.poll()) != null) {
            b.release();
        }
    }
}
