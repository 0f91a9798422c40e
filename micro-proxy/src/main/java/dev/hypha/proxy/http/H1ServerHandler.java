package dev.hypha.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Serves one downstream HTTP/1.1 connection: requests are handled one at a time, in order, so pipelined requests
 * wait (bounded by one socket read) until the response before them is complete. Malformed requests (smuggling
 * attempts with both Content-Length and Transfer-Encoding, bad chunk sizes, oversized heads) get a 4xx and the
 * connection is closed; they are never forwarded.
 */
public final class H1ServerHandler extends ChannelInboundHandlerAdapter implements Downstream {
    private final ExchangeContext cx;
    private final ConnContext conn;
    private ChannelHandlerContext ctx;
    private Exchange current;
    private boolean keepAlive = true;
    private boolean closing;
    private boolean inputClosed;
    private final ArrayDeque<Object> queued = new ArrayDeque<>(2);

    public H1ServerHandler(ExchangeContext cx, ConnContext conn) {
        this.cx = cx;
        this.conn = conn;
    }

    /** The server-side HTTP/1 codec, strict per RFC 9112 (rejects TE + CL, bare-LF lines, bad chunk sizes). */
    public static HttpServerCodec codec(ExchangeContext cx) {
        return new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(cx.maxInitialLineBytes())
                .setMaxHeaderSize(cx.maxHeaderBytes())
                .setMaxChunkSize(16384)
                .setValidateHeaders(true)
                .setStrictLineParsing(true)
                .setUseRfc9112TransferEncoding(true));
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.channel().config().setAutoRead(false);
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
        if (current != null || !queued.isEmpty()) {
            if (current != null && !current.finished() && msg instanceof HttpContent c && !(msg instanceof HttpRequest)
                    && queued.isEmpty()) {
                current.onRequestContent(c);
                return;
            }
            queued.add(msg);
            return;
        }
        dispatch(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
            // The client sent FIN: answer what it already sent, then close (nothing more can arrive).
            inputClosed = true;
            if (current == null && queued.isEmpty()) {
                closing = true;
                ctx.close();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (current != null) {
            current.downstreamReadComplete();
        }
        ctx.fireChannelReadComplete();
    }

    private void dispatch(Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest req) {
            if (req.decoderResult().isFailure()) {
                reject(req);
                return;
            }
            if (req.headers().getAll(HttpHeaderNames.HOST).size() > 1) {
                // RFC 9112 section 3.2: which of the names is meant is ambiguous, so the request is refused
                req.setDecoderResult(io.netty.handler.codec.DecoderResult.failure(
                        new IllegalArgumentException("more than one Host header")));
                reject(req);
                return;
            }
            keepAlive = HttpUtil.isKeepAlive(req) && !cx.tracker().draining();
            boolean hasBody = HttpUtil.isTransferEncodingChunked(req) || HttpUtil.getContentLength(req, 0L) > 0;
            if (HttpUtil.is100ContinueExpected(req) && req.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                req.headers().remove(HttpHeaderNames.EXPECT);
            }
            HttpRequest head = req;
            if (!hasBody) {
                // A request without a body travels as one message (one HTTP/2 HEADERS frame with END_STREAM);
                // the decoder's empty LastHttpContent that follows is dropped by the exchange.
                head = new io.netty.handler.codec.http.DefaultFullHttpRequest(req.protocolVersion(), req.method(),
                        req.uri(), io.netty.buffer.Unpooled.EMPTY_BUFFER, req.headers(),
                        io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
            }
            current = new Exchange(cx, this, head, conn, hasBody);
            current.start();
            if (!hasBody && !closing && !HeaderRules.isUpgrade(req)) {
                // Keep the socket armed for reading while this request is served: the next request (queued, one
                // read at most) or the client's FIN is then read without clearing and re-arming the socket's
                // epoll interest — two epoll_ctl system calls per request otherwise. Not for an upgrade: what
                // follows it belongs to the new protocol, read once the connection has switched.
                ctx.read();
            }
        } else if (msg instanceof HttpContent c) {
            // The tail of a request that was already answered (e.g. rejected): drop it.
            c.release();
            ctx.read();
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void reject(HttpRequest req) {
        Throwable cause = req.decoderResult().cause();
        ProxyError e = cause instanceof TooLongHttpHeaderException ? ProxyError.HEADERS_TOO_LARGE
                : cause instanceof TooLongHttpLineException ? ProxyError.URI_TOO_LONG
                : cause instanceof TooLongFrameException ? ProxyError.HEADERS_TOO_LARGE
                : ProxyError.BAD_REQUEST;
        ReferenceCountUtil.release(req);
        closing = true;
        cx.metrics().proxyErrors.inc(conn.direction().label(), e.code());
        FullHttpResponse r = ErrorResponder.response(e, cause == null ? null : cause.getMessage(), ctx.alloc(), false);
        r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public Channel channel() {
        return ctx.channel();
    }

    @Override
    public io.netty.channel.ChannelFuture write(io.netty.handler.codec.http.HttpObject msg) {
        return ctx.channel().write(msg);
    }

    @Override
    public void flush() {
        ctx.channel().flush();
    }

    @Override
    public boolean http2() {
        return false;
    }

    @Override
    public String scheme() {
        return "http";
    }

    @Override
    public void requestMore() {
        if (queued.isEmpty()) {
            ctx.read();
        }
    }

    @Override
    public void prepareResponse(HttpResponse head, boolean hasBody) {
        boolean closeAfter = !keepAlive || cx.tracker().draining();
        boolean framed = HeaderRules.frameForHttp1(head, hasBody, true);
        if (!framed) {
            closeAfter = true;
        }
        if (closeAfter) {
            keepAlive = false;
            head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
    }

    @Override
    public void exchangeDone(Exchange exchange, boolean close) {
        if (exchange != current) {
            return;
        }
        current = null;
        if (close || !keepAlive) {
            closing = true;
            ctx.channel().close();
            releaseQueued();
            return;
        }
        if (ctx.isRemoved()) {
            return; // switched protocols
        }
        while (current == null && !queued.isEmpty()) {
            dispatch(queued.poll());
        }
        while (current != null && !current.finished() && !queued.isEmpty() && queued.peek() instanceof HttpContent c
                && !(c instanceof HttpRequest)) {
            current.onRequestContent((HttpContent) queued.poll());
        }
        if (current != null) {
            current.downstreamReadComplete();
        }
        if (queued.isEmpty()) {
            if (current == null && inputClosed) {
                closing = true;
                ctx.close();
                return;
            }
            ctx.read();
        }
    }

    /** Graceful shutdown: close now when idle, else after the current response. */
    public void drain() {
        keepAlive = false;
        if (current == null) {
            closing = true;
            ctx.channel().close();
        }
    }

    @Override
    public void abort(Http2Error code) {
        closing = true;
        ctx.channel().close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (current != null) {
            current.onDownstreamClosed();
        }
        releaseQueued();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    private void releaseQueued() {
        Object o;
        while ((o = queued.poll()) != null) {
            ReferenceCountUtil.release(o);
        }
    }
}
