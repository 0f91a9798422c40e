package dev.hypha.proxy.tap;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.tls.CredentialStore;
import dev.hypha.proxy.tls.Credentials;
import dev.hypha.proxy.tls.PeerIdentity;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The tap port (4190): gRPC over HTTP/2 over mTLS, served with the proxy's own Netty (no grpc-java on the
 * sidecar). Only a client proving the control plane's identity gets past the handshake; anyone else is closed and
 * counted ({@code hypha_proxy_errors_total{direction="tap",reason="tap_identity_refused"}}). Two methods:
 * {@code hypha.api.v1.Tap/Observe} (server stream of this proxy's matching requests) and
 * {@code hypha.api.v1.Stats/Get} (this proxy's rolling statistics). Nothing here runs until someone connects.
 */
public final class TapServer extends ChannelInitializer<Channel> {
    private static final Logger LOG = Logger.getLogger(TapServer.class.getName());
    static final String OBSERVE = "/hypha.api.v1.Tap/Observe";
    static final String STATS = "/hypha.api.v1.Stats/Get";
    static final int MAX_REQUEST = 64 * 1024;
    static final int MAX_RPS = 10_000;
    static final int DEFAULT_RPS = 100;

    private final Taps taps;
    private final CredentialStore credentials;
    private final String controlIdentity;
    private final ProxyMetrics metrics;
    private final Function<StatsRequest, StatsResponse> stats;

    public TapServer(Taps taps, CredentialStore credentials, String controlIdentity, ProxyMetrics metrics,
            Function<StatsRequest, StatsResponse> stats) {
        this.taps = taps;
        this.credentials = credentials;
        this.controlIdentity = controlIdentity;
        this.metrics = metrics;
        this.stats = stats;
    }

    @Override
    protected void initChannel(Channel ch) {
        Credentials c = credentials.current();
        if (c == null) {
            metrics.proxyErrors.inc("tap", "tap_no_identity");
            ch.close();
            return;
        }
        SslHandler ssl;
        try {
            ssl = c.tapServerContext().get().newHandler(ch.alloc());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "tap: {0}", e.getMessage());
            ch.close();
            return;
        }
        ch.pipeline().addLast("tls", ssl);
        ch.pipeline().addLast("authorize", new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                if (evt instanceof SslHandshakeCompletionEvent done) {
                    PeerIdentity peer = done.isSuccess() ? PeerIdentity.of(ssl) : null;
                    if (peer == null || !controlIdentity.equals(peer.dnsName())) {
                        metrics.proxyErrors.inc("tap", "tap_identity_refused");
                        LOG.log(Level.INFO, "tap: refused {0} (identity {1}; only {2} may tap)", new Object[] {
                            ctx.channel().remoteAddress(), peer == null ? "none" : peer.dnsName(), controlIdentity});
                        ctx.close();
                        return;
                    }
                    ctx.pipeline().replace(this, "h2", Http2FrameCodecBuilder.forServer().build());
                    ctx.pipeline().addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel sc) {
                            sc.pipeline().addLast(new Call());
                        }
                    }));
                }
                ctx.fireUserEventTriggered(evt);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                LOG.log(Level.FINE, "tap connection: {0}", cause.toString());
                ctx.close();
            }
        });
        ch.config().setAutoRead(true);
    }

    /** One gRPC call on one HTTP/2 stream. */
    private final class Call extends ChannelInboundHandlerAdapter {
        private String path;
        private CompositeByteBuf body;
        private Tap tap;
        private ChannelHandlerContext ctx;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    if (path == null) {
                        path = String.valueOf(h.headers().path());
                        if (!path.equals(OBSERVE) && !path.equals(STATS)) {
                            trailersOnly(12, "unknown method " + path + " (this port serves " + OBSERVE + " and "
                                    + STATS + ")");
                            return;
                        }
                        body = ctx.alloc().compositeBuffer();
                    }
                    if (h.isEndStream()) {
                        requestEnded();
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    if (body != null) {
                        if (body.readableBytes() + d.content().readableBytes() > MAX_REQUEST) {
                            trailersOnly(8, "request larger than " + MAX_REQUEST + " bytes");
                            return;
                        }
                        body.addComponent(true, d.content().retain());
                    }
                    if (d.isEndStream()) {
                        requestEnded();
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void requestEnded() {
            if (body == null) {
                return;
            }
            byte[] message;
            try {
                message = unframe(body);
            } catch (IllegalArgumentException e) {
                trailersOnly(3, e.getMessage());
                return;
            } finally {
                body.release();
                body = null;
            }
            try {
                if (path.equals(STATS)) {
                    StatsRequest req = StatsRequest.parseFrom(message);
                    StatsResponse resp;
                    try {
                        resp = stats.apply(req);
                    } catch (IllegalArgumentException e) {
                        trailersOnly(3, e.getMessage());
                        return;
                    }
                    ctx.write(new DefaultHttp2HeadersFrame(responseHeaders()));
                    ctx.write(new DefaultHttp2DataFrame(frame(resp)));
                    ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().set("grpc-status", "0"),
                            true));
                } else {
                    observe(ObserveRequest.parseFrom(message));
                }
            } catch (InvalidProtocolBufferException e) {
                trailersOnly(3, "the request is not a valid " + (path.equals(STATS) ? "StatsRequest"
                        : "ObserveRequest") + ": " + e.getMessage());
            }
        }

        private void observe(ObserveRequest req) {
            int rps = req.getMaxRps() == 0 ? DEFAULT_RPS : req.getMaxRps();
            if (rps > MAX_RPS) {
                trailersOnly(3, "max_rps " + rps + " is too high: at most " + MAX_RPS);
                return;
            }
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(responseHeaders()));
            Channel ch = ctx.channel();
            tap = new Tap(req.getFilter(), rps, t -> ch.eventLoop().execute(this::drain));
            taps.add(tap);
            LOG.log(Level.FINE, "tap opened: {0}", req.getFilter());
        }

        private void drain() {
            Tap t = tap;
            if (t == null || !ctx.channel().isActive()) {
                return;
            }
            boolean wrote = false;
            while (ctx.channel().isWritable()) {
                var e = t.poll();
                if (e == null) {
                    break;
                }
                ctx.write(new DefaultHttp2DataFrame(frame(e)));
                wrote = true;
            }
            if (wrote) {
                ctx.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                drain();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (tap != null) {
                taps.remove(tap);
                tap.close();
                tap = null;
                LOG.fine("tap closed");
            }
            if (body != null) {
                body.release();
                body = null;
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(Level.FINE, "tap stream: {0}", cause.toString());
            ctx.close();
        }

        private void trailersOnly(int status, String message) {
            if (body != null) {
                body.release();
                body = null;
            }
            Http2Headers h = responseHeaders().set("grpc-status", Integer.toString(status))
                    .set("grpc-message", percentEncode(message));
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(h, true));
            path = "";
        }

        private ByteBuf frame(MessageLite m) {
            byte[] b = m.toByteArray();
            ByteBuf out = ctx.alloc().buffer(5 + b.length);
            out.writeByte(0).writeInt(b.length).writeBytes(b);
            return out;
        }
    }

    private static Http2Headers responseHeaders() {
        return new DefaultHttp2Headers().status("200").set("content-type", "application/grpc");
    }

    /** The one message of a unary or server-streaming request: 1 flag byte (0: uncompressed), 4 length bytes. */
    static byte[] unframe(ByteBuf b) {
        if (b.readableBytes() < 5) {
            throw new IllegalArgumentException("the request holds no gRPC message");
        }
        if (b.readByte() != 0) {
            throw new IllegalArgumentException("compressed messages are not supported here (send grpc-encoding identity)");
        }
        int len = b.readInt();
        if (len < 0 || len != b.readableBytes()) {
            throw new IllegalArgumentException("the request must hold exactly one gRPC message");
        }
        byte[] out = new byte[len];
        b.readBytes(out);
        return out;
    }

    static String percentEncode(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte x : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if (c >= 0x20 && c < 0x7f && c != '%') {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format("%02X", c));
            }
        }
        return sb.toString();
    }
}
