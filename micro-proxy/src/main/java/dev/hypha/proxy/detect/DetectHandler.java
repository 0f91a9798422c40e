package dev.hypha.proxy.detect;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Peeks at a new connection's first bytes to decide its protocol, reading until {@link ProtocolDetector} (and, for
 * TLS, {@link ClientHello}) can decide or the timeout fires. A silent client is an outcome, not an error: it is
 * handed on as opaque TCP after the timeout, so server-speaks-first protocols wait at most that long.
 * On a decision the handler removes itself and passes the peeked bytes to {@link Outcome}.
 */
public final class DetectHandler extends ChannelInboundHandlerAdapter {
    /**
     * What to do with a detected connection. It adds the handlers that follow (with {@code addLast}) and returns
     * the bytes to pass to them, or null when it took ownership of {@code peeked} itself.
     */
    @FunctionalInterface
    public interface Outcome {
        ByteBuf detected(ChannelHandlerContext ctx, Protocol protocol, ClientHello hello, ByteBuf peeked);
    }

    private final long timeoutNanos;
    private final Outcome outcome;
    private CompositeByteBuf buf;
    private ScheduledFuture<?> timer;
    private boolean done;

    public DetectHandler(Duration timeout, Outcome outcome) {
        this.timeoutNanos = timeout.toNanos();
        this.outcome = outcome;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(false);
        buf = ctx.alloc().compositeBuffer(8);
        timer = ctx.executor().schedule(() -> decide(ctx, Protocol.OPAQUE, null), timeoutNanos, TimeUnit.NANOSECONDS);
        if (ctx.channel().isActive()) {
            ctx.read();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (done || !(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        buf.addComponent(true, in);
        Protocol p = ProtocolDetector.detect(buf);
        switch (p) {
            case NEED_MORE -> ctx.read();
            case TLS -> {
                ClientHello.Result r = ClientHello.parse(buf);
                switch (r.status()) {
                    case NEED_MORE -> {
                        if (buf.readableBytes() > ClientHello.MAX_BYTES * 2) {
                            decide(ctx, Protocol.OPAQUE, null);
                        } else {
                            ctx.read();
                        }
                    }
                    case COMPLETE -> decide(ctx, Protocol.TLS, r.hello());
                    case INVALID -> decide(ctx, Protocol.OPAQUE, null);
                }
            }
            default -> decide(ctx, p, null);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent && !done) {
            // The client finished sending before we could tell: whatever it sent is opaque.
            decide(ctx, Protocol.OPAQUE, null);
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void decide(ChannelHandlerContext ctx, Protocol p, ClientHello hello) {
        if (done) {
            return;
        }
        done = true;
        timer.cancel(false);
        ByteBuf peeked = buf;
        buf = null;
        ByteBuf rest = outcome.detected(ctx, p, hello, peeked);
        ctx.pipeline().remove(this);
        if (rest != null) {
            if (rest.isReadable()) {
                ctx.fireChannelRead(rest);
                ctx.fireChannelReadComplete();
            } else {
                rest.release();
            }
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (buf != null) {
            buf.release();
            buf = null;
        }
        if (timer != null) {
            timer.cancel(false);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        done = true;
        if (timer != null) {
            timer.cancel(false);
        }
        if (buf != null) {
            buf.release();
            buf = null;
        }
        ctx.fireChannelInactive();
    }
}
