package dev.hypha.proxy.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.transport.Transports;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A small gRPC client on the proxy's own Netty HTTP/2, for the few calls the proxy makes to the control plane
 * (no grpc-java on the sidecar: it would cost more memory than the data path). One shared HTTP/2 connection,
 * re-made when it closes; every call is one stream. Runs on one event loop.
 */
public final class GrpcChannel implements AutoCloseable {
    private final Transports transports;
    private final EventLoop loop;
    private final HostPort target;
    private final SslContext tls;
    private final String authority;
    private Future<Channel> connection;
    private volatile boolean closed;

    private final String expectedIdentity;

    public GrpcChannel(Transports transports, EventLoop loop, HostPort target, SslContext tls, String authority) {
        this(transports, loop, target, tls, authority, null);
    }

    /**
     * With {@code tls}, the server must prove {@code expectedIdentity} (its certificate's DNS name, chained to the
     * trust anchors in {@code tls}); it is also the SNI sent. A server that proves another identity is refused.
     */
    public GrpcChannel(Transports transports, EventLoop loop, HostPort target, SslContext tls, String authority,
            String expectedIdentity) {
        this.transports = transports;
        this.loop = loop;
        this.target = target;
        this.tls = tls;
        this.authority = authority;
        this.expectedIdentity = expectedIdentity;
    }

    /** Makes one unary call; the future fails with {@link GrpcException} for a non-OK status. */
    public <R extends MessageLite> Future<R> unary(String method, MessageLite request, Parser<R> parser,
            Duration timeout) {
        Promise<R> p = loop.newPromise();
        start(method, request, timeout, new UnaryCall<>(p, parser), p::tryFailure, sc -> {
            ScheduledFuture<?> deadline = loop.schedule(() -> {
                if (p.tryFailure(new GrpcException(4, "no answer within " + timeout.toMillis() + " ms"))) {
                    sc.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
            p.addListener(x -> deadline.cancel(false));
            return true;
        });
        return p;
    }

    /**
     * Opens a stream for one call with {@code call} as its handler, then sends the request headers and the one
     * request message. {@code opened} sees the stream first and may decline to send (false closes it); failures to
     * connect, open or send go to {@code failed}. {@code grpcTimeout} (may be null) is sent as grpc-timeout.
     */
    private void start(String method, MessageLite request, Duration grpcTimeout, ChannelHandler call,
            java.util.function.Consumer<GrpcException> failed,
            java.util.function.Predicate<Http2StreamChannel> opened) {
        loop.execute(() -> connection().addListener(cf -> {
            if (!cf.isSuccess()) {
                failed.accept(new GrpcException(14, "cannot connect to " + target + ": " + cf.cause().getMessage()));
                return;
            }
            new Http2StreamChannelBootstrap((Channel) cf.getNow()).handler(call).open().addListener(sf -> {
                if (!sf.isSuccess()) {
                    failed.accept(new GrpcException(14, "cannot open a stream: " + sf.cause().getMessage()));
                    return;
                }
                Http2StreamChannel sc = (Http2StreamChannel) sf.getNow();
                if (!opened.test(sc)) {
                    sc.close();
                    return;
                }
                Http2Headers h = new DefaultHttp2Headers().method("POST").scheme(tls == null ? "http" : "https")
                        .path("/" + method).authority(authority);
                h.set("content-type", "application/grpc");
                h.set("te", "trailers");
                if (grpcTimeout != null) {
                    h.set("grpc-timeout", grpcTimeout.toMillis() + "m");
                }
                sc.write(new DefaultHttp2HeadersFrame(h, false));
                byte[] body = request.toByteArray();
                ByteBuf frame = sc.alloc().buffer(5 + body.length).writeByte(0).writeInt(body.length).writeBytes(body);
                sc.writeAndFlush(new DefaultHttp2DataFrame(frame, true)).addListener(wf -> {
                    if (!wf.isSuccess()) {
                        failed.accept(new GrpcException(14, "send failed: " + wf.cause().getMessage()));
                    }
                });
            });
        }));
    }

    /** Receives the messages of a server-streaming call. Called on the channel's event loop. */
    public interface StreamListener<R> {
        void onMessage(R message);

        /** The stream ended: {@code error} is null for an OK status. */
        void onClose(GrpcException error);
    }

    /** A running server-streaming call. */
    public interface Call {
        void cancel();
    }

    /** Starts a server-streaming call; messages and the end arrive on {@code listener}. */
    public <R extends MessageLite> Call serverStream(String method, MessageLite request, Parser<R> parser,
            StreamListener<R> listener) {
        Http2StreamChannel[] stream = new Http2StreamChannel[1];
        boolean[] cancelled = new boolean[1];
        boolean[] ended = new boolean[1];
        StreamListener<R> once = new StreamListener<>() { // a send failure also closes the stream: end only once
            @Override
            public void onMessage(R message) {
                listener.onMessage(message);
            }

            @Override
            public void onClose(GrpcException error) {
                if (!ended[0]) {
                    ended[0] = true;
                    listener.onClose(error);
                }
            }
        };
        start(method, request, null, new StreamingCall<>(parser, once), once::onClose, sc -> {
            stream[0] = sc;
            return !cancelled[0];
        });
        return () -> loop.execute(() -> {
            cancelled[0] = true;
            if (stream[0] != null) {
                stream[0].close(); // RST_STREAM(CANCEL)
            }
        });
    }

    /** Parses a stream of length-prefixed messages; the trailers carry the status. */
    private static final class StreamingCall<R extends MessageLite> extends ChannelInboundHandlerAdapter {
        private static final int MAX_MESSAGE = 4 << 20;
        private final Parser<R> parser;
        private final StreamListener<R> listener;
        private ByteBuf buf;
        private boolean closed;

        StreamingCall(Parser<R> parser, StreamListener<R> listener) {
            this.parser = parser;
            this.listener = listener;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame hf) {
                    CharSequence httpStatus = hf.headers().status();
                    if (httpStatus != null && !"200".contentEquals(httpStatus)) {
                        close(ctx, new GrpcException(14, "HTTP status " + httpStatus));
                        return;
                    }
                    if (hf.isEndStream()) {
                        CharSequence s = hf.headers().get("grpc-status");
                        int status = s == null ? 2 : parseStatus(s);
                        CharSequence m = hf.headers().get("grpc-message");
                        close(ctx, status == 0 ? null : new GrpcException(status,
                                m == null ? "" : URLDecoder.decode(m.toString(), StandardCharsets.UTF_8)));
                    }
                } else if (msg instanceof Http2DataFrame df) {
                    if (buf == null) {
                        buf = ctx.alloc().buffer();
                    }
                    buf.writeBytes(df.content());
                    while (buf.readableBytes() >= 5) {
                        int len = buf.getInt(buf.readerIndex() + 1);
                        if (len < 0 || len > MAX_MESSAGE) {
                            close(ctx, new GrpcException(8, "message of " + len + " bytes"));
                            return;
                        }
                        if (buf.readableBytes() < 5 + len) {
                            break;
                        }
                        buf.skipBytes(5);
                        byte[] bytes = new byte[len];
                        buf.readBytes(bytes);
                        try {
                            listener.onMessage(parser.parseFrom(bytes));
                        } catch (InvalidProtocolBufferException e) {
                            close(ctx, new GrpcException(13, "malformed message: " + e.getMessage()));
                            return;
                        }
                    }
                    buf.discardReadBytes();
                    if (df.isEndStream()) {
                        close(ctx, new GrpcException(13, "the stream ended without trailers"));
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private static int parseStatus(CharSequence s) {
            try {
                return Integer.parseInt(s.toString());
            } catch (NumberFormatException e) {
                return 2;
            }
        }

        private void close(ChannelHandlerContext ctx, GrpcException e) {
            if (!closed) {
                closed = true;
                listener.onClose(e);
            }
            release();
            ctx.close();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame r) {
                close(ctx, new GrpcException(14, "stream reset (" + r.errorCode() + ")"));
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!closed) {
                closed = true;
                listener.onClose(new GrpcException(14, "the control plane connection closed"));
            }
            release();
            ctx.fireChannelInactive();
        }

        private void release() {
            if (buf != null) {
                buf.release();
                buf = null;
            }
        }
    }

    private Future<Channel> connection() {
        if (connection != null && (!connection.isDone() || (connection.isSuccess() && connection.getNow().isActive()))) {
            return connection;
        }
        Promise<Channel> p = loop.newPromise();
        connection = p;
        if (closed) {
            return p.setFailure(new IllegalStateException("closed"));
        }
        new Bootstrap().group(loop).channel(transports.clientChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 2000)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast("tls", tls.newHandler(ch.alloc(),
                                    expectedIdentity != null ? expectedIdentity : target.host(), target.port()));
                        }
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forClient()
                                .initialSettings(Http2Settings.defaultSettings().pushEnabled(false)).build());
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ReferenceCountUtil.release(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                })
                .connect(new InetSocketAddress(target.host(), target.port())).addListener(f -> {
                    if (!f.isSuccess()) {
                        p.tryFailure(f.cause());
                        return;
                    }
                    Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
                    io.netty.handler.ssl.SslHandler ssl = ch.pipeline().get(io.netty.handler.ssl.SslHandler.class);
                    if (ssl == null) {
                        p.trySuccess(ch);
                        return;
                    }
                    ssl.handshakeFuture().addListener(h -> {
                        if (!h.isSuccess()) {
                            ch.close();
                            p.tryFailure(new IllegalStateException("TLS handshake with the control plane failed: "
                                    + h.cause().getMessage()));
                            return;
                        }
                        var id = dev.hypha.proxy.tls.PeerIdentity.of(ssl);
                        if (expectedIdentity != null && (id == null || !expectedIdentity.equals(id.dnsName()))) {
                            ch.close();
                            p.tryFailure(new IllegalStateException("the control plane proved '"
                                    + (id == null ? "nothing" : id.dnsName()) + "', expected '" + expectedIdentity + "'"));
                            return;
                        }
                        p.trySuccess(ch);
                    });
                });
        return p;
    }

    @Override
    public void close() {
        closed = true;
        loop.execute(() -> {
            if (connection != null && connection.isSuccess()) {
                connection.getNow().close();
            }
        });
    }

    /** Reads one unary response: headers, one length-prefixed message, trailers with grpc-status. */
    private static final class UnaryCall<R extends MessageLite> extends ChannelInboundHandlerAdapter {
        private static final int MAX_MESSAGE = 4 << 20;
        private final Promise<R> promise;
        private final Parser<R> parser;
        private CompositeByteBuf body;

        UnaryCall(Promise<R> promise, Parser<R> parser) {
            this.promise = promise;
            this.parser = parser;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame hf) {
                    Http2Headers h = hf.headers();
                    CharSequence httpStatus = h.status();
                    if (httpStatus != null && !"200".contentEquals(httpStatus)) {
                        fail(ctx, 14, "HTTP status " + httpStatus + " from the control plane");
                        return;
                    }
                    if (hf.isEndStream()) {
                        finish(ctx, h);
                    }
                } else if (msg instanceof Http2DataFrame df) {
                    if (body == null) {
                        body = ctx.alloc().compositeBuffer();
                    }
                    body.addComponent(true, df.content().retain());
                    if (body.readableBytes() > MAX_MESSAGE + 5) {
                        fail(ctx, 8, "response larger than " + MAX_MESSAGE + " bytes");
                        return;
                    }
                    if (df.isEndStream()) {
                        fail(ctx, 13, "the response ended without trailers");
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void finish(ChannelHandlerContext ctx, Http2Headers trailers) {
            CharSequence s = trailers.get("grpc-status");
            int status;
            try {
                status = s == null ? 2 : Integer.parseInt(s.toString());
            } catch (NumberFormatException e) {
                status = 2;
            }
            if (status != 0) {
                CharSequence m = trailers.get("grpc-message");
                fail(ctx, status, m == null ? "" : URLDecoder.decode(m.toString(), StandardCharsets.UTF_8));
                return;
            }
            if (body == null || body.readableBytes() < 5) {
                fail(ctx, 13, "no response message");
                return;
            }
            if (body.readByte() != 0) {
                fail(ctx, 12, "compressed responses are not supported");
                return;
            }
            int len = body.readInt();
            if (len != body.readableBytes()) {
                fail(ctx, 13, "expected one message of " + len + " bytes, got " + body.readableBytes());
                return;
            }
            byte[] bytes = new byte[len];
            body.readBytes(bytes);
            try {
                promise.trySuccess(parser.parseFrom(bytes));
            } catch (InvalidProtocolBufferException e) {
                promise.tryFailure(new GrpcException(13, "malformed response: " + e.getMessage()));
            }
            release();
        }

        private void fail(ChannelHandlerContext ctx, int status, String message) {
            promise.tryFailure(new GrpcException(status, message));
            release();
            ctx.close();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame r) {
                fail(ctx, 14, "stream reset by the server (" + r.errorCode() + ")");
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            promise.tryFailure(new GrpcException(14, "stream closed before a status"));
            release();
            ctx.fireChannelInactive();
        }

        private void release() {
            if (body != null) {
                body.release();
                body = null;
            }
        }
    }
}
