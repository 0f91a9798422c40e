package dev.hypha.proxy.testing;

import dev.hypha.proxy.detect.Protocol;
import dev.hypha.proxy.detect.ProtocolDetector;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test app that speaks HTTP/1.1 and HTTP/2 (prior knowledge) on one port and echoes what it received:
 * {@code x-echo-*} headers describe the request, the body is the request body. {@code /status/N} answers N,
 * {@code /slow?ms=N} answers after N ms, {@code /ws} is a WebSocket echo. It records every request it saw.
 */
public final class HttpBackend implements AutoCloseable {
    private final EventLoopGroup group = new NioEventLoopGroup(1);
    private final Channel server;
    public final ConcurrentLinkedQueue<FullHttpRequestInfo> seen = new ConcurrentLinkedQueue<>();
    /** Whether {@link #seen} records requests: tests read it; a benchmark's backend must not keep millions. */
    private final boolean record;
    public final AtomicInteger connections = new AtomicInteger();
    public final AtomicInteger flaky = new AtomicInteger();

    /** What the backend saw of one request. */
    public record FullHttpRequestInfo(String proto, String method, String uri, String clientId, int bodyLength,
            String trailer) {
    }

    public HttpBackend() throws InterruptedException {
        this("127.0.0.1", 0);
    }

    public HttpBackend(String host, int port) throws InterruptedException {
        this(host, port, true);
    }

    /** A backend on {@code host:port}; with {@code record} false it keeps nothing of the requests it answers. */
    public HttpBackend(String host, int port, boolean record) throws InterruptedException {
        this.record = record;
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.incrementAndGet();
                        ch.pipeline().addLast(new Sniff());
                    }
                }).bind(host, port).sync().channel();
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    private final class Sniff extends ByteToMessageDecoder {
        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            Protocol p = ProtocolDetector.detect(in);
            if (p == Protocol.NEED_MORE) {
                return;
            }
            ChannelPipeline pl = ctx.pipeline();
            if (p == Protocol.HTTP2) {
                pl.addLast(Http2FrameCodecBuilder.forServer().build());
                pl.addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true),
                                new HttpObjectAggregator(16 << 20), new Echo("h2"));
                    }
                }));
            } else {
                pl.addLast(new HttpServerCodec(), new HttpObjectAggregator(16 << 20),
                        new WebSocketServerProtocolHandler("/ws"), new WsEcho(), new Echo("h1"));
            }
            pl.remove(this);
        }
    }

    private static final class WsEcho extends SimpleChannelInboundHandler<TextWebSocketFrame> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame f) {
            ctx.writeAndFlush(new TextWebSocketFrame("echo: " + f.text()));
        }
    }

    private final class Echo extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final String proto;

        Echo(String proto) {
            this.proto = proto;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            QueryStringDecoder q = new QueryStringDecoder(req.uri());
            String clientId = req.headers().get("hypha-client-id");
            String trailer = req.trailingHeaders().get("x-trailer");
            if (record) {
                seen.add(new FullHttpRequestInfo(proto, req.method().name(), req.uri(), clientId,
                        req.content().readableBytes(), trailer));
            }
            int status = 200;
            if (q.path().startsWith("/flaky")) {
                status = flaky.incrementAndGet() % 2 == 0 ? 500 : 200; // every other request fails
            }
            if (q.path().startsWith("/status/")) {
                status = Integer.parseInt(q.path().substring("/status/".length()));
            }
            long delay = q.parameters().containsKey("ms") ? Long.parseLong(q.parameters().get("ms").get(0)) : 0;
            // the response is built when it is sent: a delayed one whose connection is gone by then (or whose
            // server stopped) holds no pooled buffer
            byte[] echo = q.parameters().containsKey("bytes")
                    ? new byte[Integer.parseInt(q.parameters().get("bytes").get(0))]
                    : io.netty.buffer.ByteBufUtil.getBytes(req.content());
            int st = status;
            java.util.TreeSet<String> nameSet = new java.util.TreeSet<>();
            req.headers().names().forEach(n -> nameSet.add(n.toLowerCase(java.util.Locale.ROOT)));
            String names = String.join(",", nameSet);
            String method = req.method().name();
            String uri = req.uri();
            String host = String.valueOf(req.headers().get(HttpHeaderNames.HOST));
            int bodyLength = req.content().readableBytes();
            java.util.function.Supplier<FullHttpResponse> build = () -> {
                FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(st),
                        Unpooled.wrappedBuffer(echo));
                r.headers().set("x-echo-proto", proto);
                r.headers().set("x-echo-method", method);
                r.headers().set("x-echo-uri", uri);
                r.headers().set("x-echo-host", host);
                r.headers().set("x-echo-client-id", String.valueOf(clientId));
                r.headers().set("x-echo-body-length", bodyLength);
                r.headers().set("x-echo-header-names", names);
                if (trailer != null) {
                    r.headers().set("x-echo-trailer", trailer);
                }
                HttpUtil.setContentLength(r, echo.length);
                return r;
            };
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            Runnable send = () -> {
                if (!ctx.channel().isActive()) {
                    return;
                }
                var f = ctx.writeAndFlush(build.get());
                if (!keepAlive && "h1".equals(proto)) {
                    f.addListener(ChannelFutureListener.CLOSE);
                }
            };
            if (delay > 0) {
                ctx.executor().schedule(send, delay, TimeUnit.MILLISECONDS);
            } else {
                send.run();
            }
        }
    }

    /**
     * Runs the backend as its own process ({@code HttpBackend host port}: the network-namespace tests). It records
     * nothing, since no other process can read the record (and a process sent millions of requests — the
     * benchmarks' backend once — grew its heap past 1 GiB recording them, with young collections of 200+ ms).
     */
    public static void main(String[] args) throws Exception {
        HttpBackend b = new HttpBackend(args[0], Integer.parseInt(args[1]), false);
        System.out.println("backend listening on " + args[0] + ":" + b.port());
        System.out.flush();
        Thread.currentThread().join();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
