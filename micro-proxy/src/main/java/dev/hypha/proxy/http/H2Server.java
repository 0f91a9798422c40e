package dev.hypha.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;

/** The server side of a downstream HTTP/2 connection: one child channel and one {@link Exchange} per stream. */
public final class H2Server {
    /** Sharable (no state of its own): one instance for every stream instead of one per stream. */
    private static final Http2StreamFrameToHttpObjectCodec STREAM_CODEC = new Http2StreamFrameToHttpObjectCodec(true, true);
    /** Streams a client may open at once on one connection. */
    static final int MAX_CONCURRENT_STREAMS = 256;

    private H2Server() {
    }

    /** Adds the HTTP/2 server codec and the per-stream handlers to a connection's pipeline. */
    public static void configure(ChannelPipeline p, ExchangeContext cx, ConnContext conn, long gracefulShutdownMillis) {
        p.channel().config().setAutoRead(true); // the connection reads freely; each stream's window bounds memory
        p.addLast("h2", Http2FrameCodecBuilder.forServer()
                .initialSettings(Http2Settings.defaultSettings()
                        .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
                        .maxHeaderListSize(cx.maxHeaderBytes()))
                .gracefulShutdownTimeoutMillis(gracefulShutdownMillis)
                .validateHeaders(true)
                .build());
        p.addLast("h2-mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel ch) {
                ch.config().setAutoRead(false);
                ch.pipeline().addLast(STREAM_CODEC);
                ch.pipeline().addLast(new StreamHandler(cx, conn));
            }
        }));
        p.addLast("h2-conn", new ConnectionEvents());
    }

    /** Swallows connection-level frames the multiplexer passes up (they were already handled). */
    private static final class ConnectionEvents extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                ctx.close(); // the client hung up; the codec resets what is still open
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** One downstream stream. */
    static final class StreamHandler extends ChannelInboundHandlerAdapter implements Downstream {
        private final ExchangeContext cx;
        private final ConnContext conn;
        private ChannelHandlerContext ctx;
        private Exchange exchange;

        StreamHandler(ExchangeContext cx, ConnContext conn) {
            this.cx = cx;
            this.conn = conn;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.read();
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest req && exchange == null) {
                if (req.decoderResult().isFailure()) {
                    ReferenceCountUtil.release(msg);
                    abort(Http2Error.PROTOCOL_ERROR);
                    return;
                }
                boolean hasBody = !(req instanceof LastHttpContent);
                exchange = new Exchange(cx, this, req, conn, hasBody);
                exchange.start();
            } else if (msg instanceof HttpContent c && exchange != null) {
                exchange.onRequestContent(c);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (exchange != null) {
                exchange.downstreamReadComplete();
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame rst) {
                if (exchange != null) {
                    exchange.onDownstreamReset(Http2Error.valueOf(rst.errorCode()) == null
                            ? Http2Error.CANCEL : Http2Error.valueOf(rst.errorCode()));
                }
            } else if (evt instanceof Http2GoAwayFrame) {
                if (exchange != null) {
                    exchange.onDownstreamClosed();
                }
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (exchange != null) {
                exchange.onDownstreamClosed();
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            abort(Http2Error.INTERNAL_ERROR);
        }

        @Override
        public Channel channel() {
            return ctx.channel();
        }

        @Override
        public boolean http2() {
            return true;
        }

        @Override
        public void requestMore() {
            ctx.read();
        }

        @Override
        public void prepareResponse(HttpResponse head, boolean hasBody) {
            // the HTTP/2 codec frames the body itself
        }

        @Override
        public void exchangeDone(Exchange e, boolean close) {
            if (close && ctx.channel().isActive()) {
                // Response sent while the request body was still coming: stop it (RFC 9113 §8.1).
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
            }
        }

        @Override
        public void abort(Http2Error code) {
            if (ctx.channel().isActive()) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(code));
            }
        }
    }
}
