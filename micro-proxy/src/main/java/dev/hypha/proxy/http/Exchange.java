package dev.hypha.proxy.http;

import dev.hypha.proxy.balance.Endpoint;
import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.transport.TcpRelay;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.util.ArrayDeque;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One request and its response, relayed between a {@link Downstream} and an {@link UpstreamStream}. Bodies stream
 * through with backpressure in both directions: a side is read again only after the write of its last message to
 * the other side succeeded, so a slow reader slows its writer and nothing is buffered without bound. All methods
 * run on the downstream channel's event loop (upstreams are opened on the same loop).
 */
public final class Exchange {
    private static final Logger LOG = Logger.getLogger(Exchange.class.getName());

    private final ExchangeContext cx;
    private final Downstream down;
    private HttpRequest head;
    private HttpRequest retryHead;
    private final ConnContext conn;
    private final boolean grpc;
    private final boolean requestHasBody;
    private final long startNanos = System.nanoTime();

    private UpstreamTarget target;
    private UpstreamStream up;
    private ArrayDeque<HttpContent> pending;
    private boolean requestEnded;
    private boolean requestSent;
    private boolean responseStarted;
    private boolean responseEnded;
    private boolean responseHasBody = true;
    private boolean finished;
    private boolean upgrading;
    private ArrayDeque<ByteBuf> upgradeBytes;
    private int status;
    private String grpcStatus;
    private ProxyError proxyError;
    /** This request's tap session; null while nobody taps it (the usual case, which costs nothing). */
    private dev.hypha.proxy.tap.Tapped tapped;
    private boolean tapDecided;
    private short triesOk;
    private short triesFailed;

    Exchange(ExchangeContext cx, Downstream down, HttpRequest head, ConnContext conn, boolean requestHasBody) {
        this.cx = cx;
        this.down = down;
        this.head = head;
        this.conn = conn;
        this.grpc = HeaderRules.isGrpc(head.headers());
        this.requestHasBody = requestHasBody;
        this.requestEnded = !requestHasBody && head instanceof LastHttpContent;
    }

    HttpRequest head() {
        return head;
    }

    boolean finished() {
        return finished;
    }

    /** Routes the request and opens the upstream. */
    void start() {
        route = cx.router().policy(head, conn);
        if (route != null) {
            cx.metrics().routeRequests.inc(conn.series().routeRequests, conn.direction().label(), authority(),
                    route.name());
            if (route.budget() != null) {
                route.budget().deposit();
            }
            if (route.retryable()) {
                replayable = true;
                if (head instanceof io.netty.handler.codec.http.FullHttpRequest f && f.content().isReadable()) {
                    if (f.content().readableBytes() > MAX_REPLAY) {
                        replayable = false;
                    } else {
                        replayFull = f.content().retainedDuplicate();
                    }
                }
            }
            if (route.timeoutMillis() > 0) {
                timeout = down.channel().eventLoop().schedule(() -> fail(ProxyError.ROUTE_TIMEOUT,
                        route.name() + " allows " + route.timeoutMillis() + " ms"), route.timeoutMillis(),
                        java.util.concurrent.TimeUnit.MILLISECONDS);
            }
        }
        routeAndConnect(head);
    }

    /** Asks the router where {@code request} goes, then opens the upstream. */
    private void routeAndConnect(HttpRequest request) {
        Future<UpstreamTarget> routed = cx.router().routeAsync(request, conn, down.http2(), down.channel().eventLoop());
        if (routed.isDone()) {
            routed(routed);
        } else {
            routed.addListener(x -> routed(routed));
        }
    }

    private boolean requestCounted;

    /**
     * Counts the request once, when it is routed (its labels then name the hop as its response's do: the authority
     * routed to and, outbound, whether the hop is mTLS) or, if it ends before that, when it ends.
     */
    private void countRequest() {
        if (!requestCounted) {
            requestCounted = true;
            cx.metrics().httpRequests.inc(conn.series().httpRequests, conn.direction().label(), authority(), tls(),
                    clientId(), serverId());
        }
    }

    private void routed(Future<UpstreamTarget> routed) {
        if (routed.isSuccess()) {
            target = routed.getNow();
        }
        countRequest();
        if (!routed.isSuccess()) {
            Throwable c = routed.cause();
            if (c instanceof Router.RouteException e) {
                fail(e.error(), e.getMessage());
            } else {
                fail(ProxyError.NO_ENDPOINTS, String.valueOf(c.getMessage()));
            }
            return;
        }
        if (finished) {
            releaseEndpoint(false);
            return;
        }
        if (!tapDecided && cx.metrics().taps.any()) {
            tapBegin();
        }
        acquireUpstream();
    }

    private void acquireUpstream() {
        Future<UpstreamStream> f = cx.upstreams().acquire(target, down.channel().eventLoop());
        if (f.isDone()) {
            upstreamReady(f);
        } else {
            f.addListener(x -> upstreamReady(f));
        }
    }

    private RoutePolicy route;
    /** Requests bodies up to this size are kept so that a retryable route can send them again. */
    static final int MAX_REPLAY = 64 * 1024;
    private boolean replayable;
    private java.util.ArrayList<HttpContent> replay;
    private int replayBytes;
    private ByteBuf replayFull;
    private io.netty.util.concurrent.ScheduledFuture<?> timeout;
    private boolean rerouted;
    private boolean endpointReleased;
    private long responseNanos;

    /** Reports the outcome to the balancer's endpoint, once. */
    private void releaseEndpoint(boolean failure) {
        if (endpointReleased || target == null || target.endpoint() == null) {
            return;
        }
        endpointReleased = true;
        target.endpoint().finish(responseNanos, failure, 10_000_000_000L);
    }

    private void upstreamReady(Future<UpstreamStream> f) {
        if (!f.isSuccess()) {
            Throwable c = f.cause();
            if (!finished && !rerouted && target.alternative() != null && c instanceof UpstreamException ue
                    && (ue.error() == ProxyError.CONNECT_REFUSED || ue.error() == ProxyError.CONNECT_TIMEOUT
                    || ue.error() == ProxyError.CONNECT_FAILED)
                    && (route == null || route.budget() == null || route.budget().tryWithdraw())) {
                // Never sent: try another endpoint of the same destination, once.
                rerouted = true;
                Endpoint failed = target.endpoint();
                releaseEndpoint(true);
                UpstreamTarget next = target.alternative().apply(failed);
                if (next != null) {
                    cx.metrics().proxyErrors.inc(conn.direction().label(), "endpoint_unreachable_rerouted");
                    target = next;
                    endpointReleased = false;
                    acquireUpstream();
                    return;
                }
            }
            if (c instanceof UpstreamException ue) {
                fail(ue.error(), ue.getMessage());
            } else {
                fail(ProxyError.CONNECT_FAILED, String.valueOf(c));
            }
            return;
        }
        UpstreamStream s = f.getNow();
        if (finished) {
            s.abort(Http2Error.CANCEL);
            return;
        }
        up = s;
        s.bind(this);
        if (retryHead != null) {
            head = retryHead;
            retryHead = null;
        }
        prepareRequestHead();
        if (head instanceof LastHttpContent) {
            requestSent = true;
        }
        HttpObject lastWrite = head;
        if (pending != null) {
            s.write(head);
            HttpContent c;
            while ((c = pending.poll()) != null) {
                if (c instanceof LastHttpContent) {
                    requestSent = true;
                }
                if (pending.isEmpty()) {
                    lastWrite = c;
                } else {
                    s.write(c);
                }
            }
            pending = null;
        }
        s.write(lastWrite).addListener(writeUpDone);
        s.flush();
        s.read();
    }

    /** Adapts the request head to the upstream hop (HTTP/1 framing, orig-proto marker, mesh headers). */
    private void prepareRequestHead() {
        HttpRequest h = head;
        boolean upgrade = target.dedicated();
        HeaderRules.stripHopByHop(h.headers(), upgrade);
        h.headers().remove(HeaderRules.ORIG_PROTO);
        h.headers().remove(HeaderRules.CLIENT_ID);
        if (conn.direction() == ConnContext.Direction.INBOUND && conn.clientId() != null) {
            h.headers().set(HeaderRules.CLIENT_ID, conn.clientId().dnsName());
        }
        if (up.http2()) {
            if (target.meshed() && !down.http2()) {
                h.headers().set(HeaderRules.ORIG_PROTO, "HTTP/1.1");
            }
            h.setProtocolVersion(HttpVersion.HTTP_1_1);
        } else {
            h.setProtocolVersion(HttpVersion.HTTP_1_1);
            HeaderRules.frameForHttp1(h, requestHasBody, true);
            if (!h.headers().contains(HttpHeaderNames.HOST) && target.authority() != null) {
                h.headers().set(HttpHeaderNames.HOST, target.authority());
            }
        }
    }

    /** A request body chunk (or the end of the request) from downstream. */
    void onRequestContent(HttpContent c) {
        if (finished || (head instanceof LastHttpContent && !(c instanceof HttpRequest))) {
            // after the end of the request (a whole-message head): only the decoder's empty end marker comes here
            c.release();
            return;
        }
        if (c.decoderResult().isFailure()) {
            c.release();
            // A malformed body (e.g. a bad chunk size): the upstream must never see a complete request.
            cx.metrics().proxyErrors.inc(conn.direction().label(), ProxyError.BAD_REQUEST.code());
            if (!responseStarted) {
                fail(ProxyError.BAD_REQUEST, "malformed request body: " + c.decoderResult().cause().getMessage());
            } else {
                abort(Http2Error.PROTOCOL_ERROR);
            }
            return;
        }
        boolean last = c instanceof LastHttpContent;
        if (last) {
            requestEnded = true;
        }
        keepForReplay(c);
        if (up == null) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            pending.add(c);
            return;
        }
        if (upgrading) {
            c.release();
            return;
        }
        if (last) {
            requestSent = true;
        }
        up.write(c).addListener(writeUpDone);
        flushUp = true;
    }

    private void keepForReplay(HttpContent c) {
        if (!replayable) {
            return;
        }
        replayBytes += c.content().readableBytes();
        if (replayBytes > MAX_REPLAY) {
            replayable = false; // too big to keep: this request will not be retried
            releaseReplay();
            return;
        }
        if (replay == null) {
            replay = new java.util.ArrayList<>(4);
        }
        replay.add(c.retainedDuplicate());
    }

    private void releaseReplay() {
        if (replay != null) {
            replay.forEach(HttpContent::release);
            replay = null;
        }
        if (replayFull != null) {
            replayFull.release();
            replayFull = null;
        }
    }

    /** Sends the request again (a retryable route's failed try): a new upstream, maybe another endpoint. */
    private void retry() {
        UpstreamStream old = up;
        up = null;
        old.release(false); // unbinds, then resets the stream / closes the connection
        releaseEndpoint(true);
        endpointReleased = false;
        responseNanos = 0;
        requestSent = false;
        interimPending = false;
        if (route != null) {
            cx.metrics().routeRetries.inc(conn.direction().label(), authority(), route.name(), "retried");
        }
        HttpRequest again = copyOfHead();
        retryHead = again;
        if (replay != null) {
            pending = new ArrayDeque<>(replay.size());
            for (HttpContent c : replay) {
                pending.add(c.retainedDuplicate());
            }
        }
        routeAndConnect(again);
    }

    /**
     * A new head for sending the request again (the one sent is consumed by the encoder): same line and headers,
     * with the kept body of a whole-message request.
     */
    private HttpRequest copyOfHead() {
        if (head instanceof io.netty.handler.codec.http.FullHttpRequest f) {
            return new io.netty.handler.codec.http.DefaultFullHttpRequest(head.protocolVersion(), head.method(),
                    head.uri(), replayFull != null ? replayFull.retainedDuplicate() : io.netty.buffer.Unpooled.EMPTY_BUFFER,
                    head.headers(), f.trailingHeaders());
        }
        return new io.netty.handler.codec.http.DefaultHttpRequest(head.protocolVersion(), head.method(), head.uri(),
                head.headers());
    }

    private boolean flushUp;
    private boolean flushDown;

    /** The downstream finished a read batch: send what this exchange wrote upstream in one flush. */
    void downstreamReadComplete() {
        if (flushUp && up != null) {
            flushUp = false;
            up.flush();
        }
    }

    /** The upstream finished a read batch: send what this exchange wrote downstream in one flush. */
    void upstreamReadComplete() {
        if (flushDown) {
            flushDown = false;
            down.flush();
        }
    }

    private final ChannelFutureListener writeUpDone = this::writeUpDone;

    private void writeUpDone(io.netty.channel.ChannelFuture f) {
        if (!f.isSuccess()) {
            if (!finished) {
                LOG.log(Level.FINE, "write upstream failed: {0}", f.cause().toString());
                onUpstreamClosed();
            }
            return;
        }
        if (!requestEnded && !finished) {
            down.requestMore();
        }
    }

    /** A response object (head, body chunk, end) from the upstream. */
    void onUpstreamRead(Object msg) {
        if (finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (upgrading) {
            if (msg instanceof ByteBuf b) {
                upgradeBytes.add(b);
            } else {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (!(msg instanceof HttpObject obj)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (interimPending) {
            interimPending = false;
            if (msg instanceof LastHttpContent l && !(msg instanceof HttpResponse) && !l.content().isReadable()
                    && l.trailingHeaders().isEmpty()) {
                l.release();
                up.read();
                return;
            }
        }
        DecoderResult dr = obj.decoderResult();
        if (dr.isFailure()) {
            ReferenceCountUtil.release(msg);
            if (!responseStarted) {
                fail(ProxyError.UPSTREAM_PROTOCOL, dr.cause().getMessage());
            } else {
                abort(Http2Error.PROTOCOL_ERROR);
            }
            return;
        }
        if (obj instanceof HttpResponse r) {
            int code = r.status().code();
            if (code >= 100 && code < 200 && code != 101) {
                // Interim response (100 Continue, 103 Early Hints): pass it on, keep waiting for the final one.
                writeInterim(r);
                return;
            }
            if (code == 101 && target.dedicated() && !down.http2() && !up.http2()) {
                switchProtocols(r);
                return;
            }
            String headGrpcStatus = HeaderRules.grpcStatus(r);
            boolean failure = (route != null ? route : RoutePolicy.DEFAULT_ROUTE).isFailure(code, headGrpcStatus);
            if (failure) {
                triesFailed++;
            } else {
                triesOk++;
            }
            if (route != null) {
                cx.metrics().routeActualResponses.inc(conn.series().routeActualResponses, conn.direction().label(),
                        authority(), route.name(),
                        HeaderRules.statusText(code), failure ? "failure" : "success");
                if (failure && route.retryable()) {
                    String outcome = !replayable || !requestEnded ? "not_replayable"
                            : route.budget() != null && !route.budget().tryWithdraw() ? "budget_exhausted" : null;
                    if (outcome == null) {
                        ReferenceCountUtil.release(msg);
                        retry();
                        return;
                    }
                    cx.metrics().routeRetries.inc(conn.direction().label(), authority(), route.name(), outcome);
                }
            }
            responseStarted = true;
            status = code;
            responseNanos = System.nanoTime() - startNanos;
            if (timeout != null) {
                timeout.cancel(false); // the route's timeout bounds the wait for the response head
            }
            if (route != null) {
                cx.metrics().routeLatency.observeNanos(conn.series().routeLatency, responseNanos,
                        conn.direction().label(), authority(), route.name());
            }
            grpcStatus = headGrpcStatus;
            if (tapped != null) {
                tapped.responseInit(code, System.nanoTime());
            }
            cx.metrics().httpLatency.observeNanos(conn.series().httpLatency, System.nanoTime() - startNanos,
                    conn.direction().label(), authority(), tls(), clientId(), serverId(), HeaderRules.statusText(code));
            HeaderRules.stripHopByHop(r.headers(), false);
            r.headers().remove(HeaderRules.ORIG_PROTO);
            responseHasBody = HeaderRules.responseHasBody(head.method(), r.status());
            r.setProtocolVersion(HttpVersion.HTTP_1_1);
            down.prepareResponse(r, responseHasBody);
        }
        boolean last = obj instanceof LastHttpContent;
        if (last) {
            responseEnded = true;
        }
        if (tapped != null && obj instanceof HttpContent hc) {
            tapped.bytes(hc.content().readableBytes());
        }
        if (last && grpcStatus == null) {
            String g = ((LastHttpContent) obj).trailingHeaders().get("grpc-status");
            if (g != null) {
                grpcStatus = g;
            }
        }
        if (last && !responseHasBody && obj instanceof HttpContent hc && !(obj instanceof HttpResponse)
                && hc.content().isReadable()) {
            hc.content().clear();
        }
        // A head is small and carries no body: the body is read on at once (an HTTP/1 upstream then stays armed for
        // reading instead of being disarmed and re-armed, two system calls, when the head's write completes after
        // the read). Body chunks are read on only once written, so a slow client slows the server.
        boolean head = obj instanceof HttpResponse && !last;
        down.write(obj).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                onDownstreamClosed();
                return;
            }
            if (last) {
                complete();
            } else if (!finished && !head) {
                up.read();
            }
        });
        flushDown = true;
        if (head && !finished) {
            up.read();
        }
    }

    private void writeInterim(HttpResponse r) {
        HeaderRules.stripHopByHop(r.headers(), false);
        r.setProtocolVersion(HttpVersion.HTTP_1_1);
        HttpResponse interim = r;
        if (!(r instanceof FullHttpResponse)) {
            interim = new io.netty.handler.codec.http.DefaultFullHttpResponse(HttpVersion.HTTP_1_1, r.status(),
                    io.netty.buffer.Unpooled.EMPTY_BUFFER, r.headers(),
                    io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
        }
        boolean skipLast = !up.http2(); // the HTTP/1 decoder follows a 1xx head with an empty LastHttpContent
        down.write(interim).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess() && !finished) {
                up.read();
            }
        });
        down.flush();
        if (skipLast) {
            interimPending = true;
        }
    }

    private boolean interimPending;

    /** 101 Switching Protocols on an HTTP/1 hop: pass the response on, then relay raw bytes both ways. */
    private void switchProtocols(HttpResponse r) {
        upgrading = true;
        upgradeBytes = new ArrayDeque<>(2);
        responseStarted = true;
        status = 101;
        HeaderRules.stripHopByHop(r.headers(), true);
        r.setProtocolVersion(HttpVersion.HTTP_1_1);
        HttpResponse copy = new DefaultHttpResponse(HttpVersion.HTTP_1_1, r.status(), r.headers());
        ReferenceCountUtil.release(r);
        Channel dc = down.channel();
        Channel uc = up.channel();
        dc.writeAndFlush(copy).addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                onDownstreamClosed();
                return;
            }
            dc.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener((ChannelFutureListener) g -> {
                if (!g.isSuccess()) {
                    onDownstreamClosed();
                    return;
                }
                finished = true;
                recordResponse();
                down.exchangeDone(this, false);
                stripToBytes(dc.pipeline());
                stripToBytes(uc.pipeline());
                ByteBuf b;
                while ((b = upgradeBytes.poll()) != null) {
                    dc.write(b);
                }
                dc.flush();
                TcpRelay.join(uc, dc);
            });
        });
    }

    private static void stripToBytes(ChannelPipeline p) {
        while (p.last() != null && !(p.last() instanceof io.netty.handler.ssl.SslHandler)) {
            var h = p.last();
            if (h instanceof HttpServerCodec || h instanceof HttpClientCodec) {
                p.remove(h);
                break;
            }
            p.remove(h);
        }
    }

    private boolean retried;
    private boolean notProcessedRetried;

    /** The upstream closed or failed before the exchange completed. */
    void onUpstreamClosed() {
        if (finished || responseEnded) {
            return;
        }
        if (!responseStarted && !retried && up != null && up.reused() && head instanceof LastHttpContent
                && !((LastHttpContent) head).content().isReadable()) {
            // A pooled connection the server had just closed (the keep-alive race): the request was certainly not
            // processed, and it has no body, so it is sent again once on a fresh connection.
            retried = true;
            up = null;
            cx.metrics().proxyErrors.inc(conn.direction().label(), "stale_connection_retried");
            retryHead = copyOfHead();
            Future<UpstreamStream> f = cx.upstreams().acquire(target, down.channel().eventLoop(), true);
            f.addListener(x -> upstreamReady(f));
            return;
        }
        if (!responseStarted) {
            fail(ProxyError.UPSTREAM_RESET, "the connection closed before a response");
        } else {
            abort(Http2Error.INTERNAL_ERROR);
        }
    }

    /** The upstream HTTP/2 stream was reset (or refused by GOAWAY). */
    void onUpstreamReset(Http2Error code) {
        if (finished) {
            return;
        }
        if (!responseStarted && code == Http2Error.REFUSED_STREAM && !notProcessedRetried && requestEnded
                && (replayable || (head instanceof LastHttpContent l && !l.content().isReadable()))
                && (route == null || route.budget() == null || route.budget().tryWithdraw())) {
            // The server refused the stream (e.g. it was going away): certainly not processed, so it is sent
            // again on a new stream, whatever the route, within the budget.
            notProcessedRetried = true;
            cx.metrics().proxyErrors.inc(conn.direction().label(), "refused_stream_retried");
            retry();
            return;
        }
        if (!responseStarted && code == Http2Error.REFUSED_STREAM && down.http2()) {
            // Certainly not processed: tell the client it may retry.
            abort(Http2Error.REFUSED_STREAM);
        } else if (!responseStarted && !down.http2()) {
            fail(ProxyError.UPSTREAM_RESET, "stream reset with " + code);
        } else {
            abort(code);
        }
    }

    /** The downstream connection closed or its stream was reset: cancel upstream. */
    void onDownstreamClosed() {
        onDownstreamReset(Http2Error.CANCEL);
    }

    void onDownstreamReset(Http2Error code) {
        if (finished) {
            return;
        }
        finished = true;
        releasePending();
        if (up != null) {
            up.abort(code);
        }
        if (proxyError == null && !responseStarted) {
            status = 0;
        }
        recordResponse();
    }

    /** Answers with a proxy-made error (if nothing was sent yet), and ends the exchange. */
    void fail(ProxyError error, String detail) {
        if (finished) {
            return;
        }
        if (responseStarted) {
            abort(Http2Error.INTERNAL_ERROR);
            return;
        }
        finished = true;
        proxyError = error;
        releasePending();
        if (up != null) {
            up.abort(Http2Error.CANCEL);
            up = null;
        }
        LOG.log(Level.FINE, "{0} {1} {2}: {3} ({4})",
                new Object[] {conn.direction().label(), head.method(), head.uri(), error.code(), detail});
        cx.metrics().proxyErrors.inc(conn.direction().label(), error.code());
        FullHttpResponse r = ErrorResponder.response(error, detail, down.channel().alloc(), grpc && down.http2());
        status = r.status().code();
        grpcStatus = r.headers().get("grpc-status");
        if (!tapDecided && cx.metrics().taps.any()) {
            tapBegin();
        }
        if (tapped != null) {
            tapped.responseInit(status, System.nanoTime());
            tapped.bytes(r.content().readableBytes());
        }
        cx.metrics().httpLatency.observeNanos(conn.series().httpLatency, System.nanoTime() - startNanos,
                conn.direction().label(), authority(), tls(), clientId(), serverId(), HeaderRules.statusText(status));
        boolean mustClose = !requestEnded;
        down.prepareResponse(r, true);
        if (mustClose && !down.http2()) {
            HttpUtil.setKeepAlive(r, false);
        }
        down.write(r).addListener((ChannelFutureListener) f -> {
            recordResponse();
            down.exchangeDone(this, mustClose || !f.isSuccess());
        });
        down.flush();
    }

    /** Cancels both sides after the response began (or when no response can be sent). */
    void abort(Http2Error code) {
        if (finished) {
            return;
        }
        finished = true;
        releasePending();
        if (up != null) {
            up.abort(code);
        }
        down.abort(code);
        if (status == 0) {
            status = 502;
        }
        recordResponse();
    }

    private void complete() {
        if (finished) {
            return;
        }
        finished = true;
        boolean reusable = requestSent && requestEnded;
        up.release(reusable);
        recordResponse();
        down.exchangeDone(this, !requestEnded);
    }

    private void releasePending() {
        releaseReplay();
        if (pending != null) {
            HttpContent c;
            while ((c = pending.poll()) != null) {
                c.release();
            }
        }
        if (upgradeBytes != null) {
            ByteBuf b;
            while ((b = upgradeBytes.poll()) != null) {
                b.release();
            }
        }
    }

    private boolean recorded;

    private void recordResponse() {
        if (recorded) {
            return;
        }
        recorded = true;
        countRequest();
        releaseReplay();
        if (timeout != null) {
            timeout.cancel(false);
        }
        if (route != null) {
            cx.metrics().routeResponses.inc(conn.series().routeResponses, conn.direction().label(), authority(),
                    route.name(), status == 0 ? "" : HeaderRules.statusText(status),
                    proxyError != null || route.isFailure(status, grpcStatus) ? "failure" : "success");
        }
        // The endpoint failed when it answered 5xx or the exchange broke on its side; a client that went away does
        // not count against it.
        releaseEndpoint(status >= 500 || (proxyError != null && proxyError != ProxyError.NO_ENDPOINTS));
        String cls = classification();
        cx.metrics().stats.record(conn.series().stats, conn.direction().label(), authority(),
                route == null ? RoutePolicy.DEFAULT : route.name(),
                cls.equals("success"), responseNanos > 0 ? responseNanos : System.nanoTime() - startNanos, triesOk,
                triesFailed);
        recordEdge();
        if (tapped != null) {
            tapped.end(System.nanoTime(), grpc || grpcStatus != null ? (grpcStatus == null ? "2" : grpcStatus) : null,
                    proxyError == null && !responseEnded && status != 101 ? "reset" : null,
                    proxyError == null ? null : proxyError.code(), cls.equals("success"));
        }
        cx.metrics().httpResponses.inc(conn.series().httpResponses, conn.direction().label(), authority(), tls(),
                clientId(), serverId(),
                status == 0 ? "" : HeaderRules.statusText(status), cls, proxyError == null ? "" : proxyError.code());
    }

    /** Who this request's hop was with, for {@code hypha edges}. */
    private void recordEdge() {
        if (conn.direction() == ConnContext.Direction.OUTBOUND) {
            if (target == null) {
                return;
            }
            Endpoint ep = target.endpoint();
            cx.metrics().stats.recordEdge(conn.series().edge, ep != null ? ep.edgeKey()
                    : new dev.hypha.proxy.metrics.RollingStats.EdgeKey("outbound", target.address().toString(),
                            target.identity() == null ? "" : target.identity(), target.meshed(), null));
        } else if (conn.inboundEdge() != null) {
            cx.metrics().stats.recordEdge(conn.series().edge, conn.inboundEdge());
        }
    }

    /** Decides, once, whether a tap wants this request (only called while some tap is open). */
    private void tapBegin() {
        tapDecided = true;
        boolean out = conn.direction() == ConnContext.Direction.OUTBOUND;
        String dst = target == null ? "" : target.endpoint() != null ? target.endpoint().addressText()
                : target.address().toString();
        String src = conn.client() == null ? "" : conn.clientIp() + ":" + conn.client().getPort();
        java.util.Map<String, String> labels = target != null && target.endpoint() != null
                && target.endpoint().labels() != null ? target.endpoint().labels() : java.util.Map.of();
        String path = head.uri();
        String scheme = down.scheme();
        int authorityEnd = path.startsWith("http://") || path.startsWith("https://") ? path.indexOf('/', 8) : -2;
        if (authorityEnd != -2) { // absolute form (a forward-proxy request): the tap shows its scheme and path
            scheme = path.substring(0, path.indexOf(':'));
            path = authorityEnd < 0 ? "/" : path.substring(authorityEnd);
        }
        tapped = cx.metrics().taps.begin(new dev.hypha.proxy.tap.Taps.Request(
                out ? dev.hypha.api.v1.Direction.OUTBOUND : dev.hypha.api.v1.Direction.INBOUND, src, dst,
                tls().equals("true"), clientId(), out ? serverId() : "", route == null ? RoutePolicy.DEFAULT : route.name(),
                labels, head.method().name(), scheme, authority(), path), startNanos);
    }

    private String classification() {
        if (proxyError != null || status == 0) {
            return "failure";
        }
        if (grpcStatus != null) {
            return grpcStatus.equals("0") ? "success" : "failure";
        }
        return status >= 500 ? "failure" : "success";
    }

    private String authority() {
        if (target != null && target.authority() != null) {
            return target.authority();
        }
        String host = head.headers().get(HttpHeaderNames.HOST);
        return host == null ? "" : host;
    }

    private String tls() {
        boolean secured = conn.direction() == ConnContext.Direction.INBOUND ? conn.meshed()
                : target != null && target.meshed();
        return secured ? "true" : "no_identity";
    }

    private String clientId() {
        return conn.clientId() == null ? "" : conn.clientId().dnsName();
    }

    private String serverId() {
        return conn.direction() == ConnContext.Direction.OUTBOUND && target != null && target.identity() != null
                ? target.identity() : "";
    }
}
