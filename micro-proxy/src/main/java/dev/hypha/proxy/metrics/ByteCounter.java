package dev.hypha.proxy.metrics;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Counts a connection's bytes and its opening and closing, at the socket (below TLS). Counts are accumulated in
 * fields and published once when the connection closes, so the per-read cost is two additions.
 */
public final class ByteCounter extends ChannelDuplexHandler {
    private final ProxyMetrics metrics;
    private final String direction;
    private final String tls;
    private final String peer;
    private long read;
    private long written;
    private long publishedRead;
    private long publishedWritten;

    public ByteCounter(ProxyMetrics metrics, String direction, String tls, String peer) {
        this.metrics = metrics;
        this.direction = direction;
        this.tls = tls;
        this.peer = peer;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        metrics.tcpOpened.inc(direction, tls, peer);
        metrics.tcpOpen.add(1, direction, tls, peer);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            read += b.readableBytes();
        }
        if (read - publishedRead > (1 << 20)) {
            publish();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf b) {
            written += b.readableBytes();
        } else if (msg instanceof ByteBufHolder h) {
            written += h.content().readableBytes();
        }
        ctx.write(msg, promise);
    }

    private void publish() {
        metrics.tcpRead.add(read - publishedRead, direction, tls, peer);
        metrics.tcpWritten.add(written - publishedWritten, direction, tls, peer);
        publishedRead = read;
        publishedWritten = written;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        publish();
        metrics.tcpClosed.inc(direction, tls, peer);
        metrics.tcpOpen.add(-1, direction, tls, peer);
        ctx.fireChannelInactive();
    }
}
