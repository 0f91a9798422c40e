package dev.hypha.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Relays bytes between two channels, byte for byte, in both directions. Backpressure: auto-read is off and a side
 * is read again only after its last write to the other side succeeded. Half-close: when one side ends its input,
 * the other side's output is shut down (a TLS side sends close_notify); the relay closes when both directions ended.
 */
public final class TcpRelay extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = Logger.getLogger(TcpRelay.class.getName());

    private final Channel peer;
    private final Shared shared;
    private final boolean isA;

    /** State shared by the two halves; touched only on the event loop that both channels share. */
    private static final class Shared {
        boolean aDone;
        boolean bDone;
    }

    private TcpRelay(Channel peer, Shared shared, boolean isA) {
        this.peer = peer;
        this.shared = shared;
        this.isA = isA;
    }

    /**
     * Joins two active channels (on the same event loop). Each pipeline gets a relay handler at its end; bytes
     * already buffered by handlers before it will flow on their next read.
     */
    public static void join(Channel a, Channel b) {
        Shared s = new Shared();
        a.config().setAutoRead(false);
        b.config().setAutoRead(false);
        a.pipeline().addLast("relay", new TcpRelay(b, s, true));
        b.pipeline().addLast("relay", new TcpRelay(a, s, false));
        a.read();
        b.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!peer.isActive()) {
            buf.release();
            ctx.close();
            return;
        }
        peer.writeAndFlush(buf).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                ctx.read();
            } else {
                LOG.log(Level.FINE, "relay write failed: {0}", f.cause().toString());
                ctx.close();
                peer.close();
            }
        });
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent || evt instanceof SslCloseCompletionEvent) {
            inputEnded(ctx);
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void inputEnded(ChannelHandlerContext ctx) {
        if (isA ? shared.aDone : shared.bDone) {
            return;
        }
        if (isA) {
            shared.aDone = true;
        } else {
            shared.bDone = true;
        }
        if (shared.aDone && shared.bDone) {
            closeBoth(ctx.channel());
            return;
        }
        // Flush what is pending, then end the peer's output.
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> shutdownOutput(peer));
    }

    private void closeBoth(Channel self) {
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        self.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * Ends a channel's output. Over mesh TLS the half-close is carried by a TCP FIN under the TLS stream rather
     * than by close_notify, because a TLS engine that receives close_notify also ends its own output, which would
     * cut off the other direction (the mesh header already authenticated both ends; the app protocol frames data).
     */
    static void shutdownOutput(Channel ch) {
        if (ch instanceof DuplexChannel d) {
            d.shutdownOutput();
        } else {
            ch.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // The other side may still have bytes in flight to us; let them drain, then close.
        if (peer.isActive()) {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.FINE, "relay closed on error: {0}", cause.toString());
        ctx.close();
        peer.close();
    }
}
