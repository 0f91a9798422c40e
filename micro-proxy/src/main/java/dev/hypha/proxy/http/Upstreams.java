package dev.hypha.proxy.http;

import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.tls.Credentials;
import dev.hypha.proxy.tls.CredentialStore;
import dev.hypha.proxy.tls.MeshAllocator;
import dev.hypha.proxy.tls.MeshHeader;
import dev.hypha.proxy.tls.MeshTls;
import dev.hypha.proxy.tls.PeerIdentity;
import dev.hypha.proxy.transport.Transports;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Opens upstream connections and streams: plain or over mesh mTLS (handshake, identity check, mesh header), then
 * HTTP/1 (pooled, one exchange at a time, idle ones evicted), HTTP/2 (one shared connection per target, a stream
 * per exchange) or raw bytes. Pools are kept per event loop, so that a connection is only ever touched by the
 * loop that owns the downstream using it.
 */
public final class Upstreams {
    private static final Logger LOG = Logger.getLogger(Upstreams.class.getName());
    private static final int MAX_IDLE_PER_TARGET = 32;

    private final Transports transports;
    private final CredentialStore credentials;
    private final ProxyMetrics metrics;
    private final int connectTimeoutMillis;
    private final long idleTimeoutNanos;
    private final String direction;
    private final Map<EventLoop, LoopPools> pools = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public Upstreams(Transports transports, CredentialStore credentials, ProxyMetrics metrics,
            Duration connectTimeout, Duration idleTimeout, String direction) {
        this.transports = transports;
        this.credentials = credentials;
        this.metrics = metrics;
        this.connectTimeoutMillis = (int) connectTimeout.toMillis();
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.direction = direction;
    }

    /** Connections of one event loop. */
    private static final class LoopPools {
        /** Idle HTTP/1 connections per target, oldest first (taken from the back, so the front ages out). */
        final Map<UpstreamTarget.PoolKey, ArrayDeque<UpstreamHandler>> idle = new HashMap<>();
        /** Whether a sweep of idle connections is scheduled: one timer per loop, not one per idle connection. */
        boolean sweepScheduled;
        final Map<UpstreamTarget.PoolKey, H2Conn> h2 = new HashMap<>();
    }

    /** A shared HTTP/2 connection (possibly still being set up). */
    private static final class H2Conn {
        final Future<Channel> ready;
        boolean goingAway;
        /** The connection's handler, once it is ready. */
        H2Client client;

        H2Conn(Future<Channel> ready) {
            this.ready = ready;
        }
    }

    /** A stream for one exchange to {@code t}; must be called on {@code loop}. */
    public Future<UpstreamStream> acquire(UpstreamTarget t, EventLoop loop) {
        return acquire(t, loop, false);
    }

    /** As {@link #acquire(UpstreamTarget, EventLoop)}; {@code fresh} skips pooled HTTP/1 connections. */
    public Future<UpstreamStream> acquire(UpstreamTarget t, EventLoop loop, boolean fresh) {
        if (closed) {
            return loop.newFailedFuture(new UpstreamException(ProxyError.SHUTTING_DOWN, "proxy is shutting down"));
        }
        // the usual case, a connection that is open already, completes here without a promise to notify
        return t.wire() == UpstreamTarget.Wire.HTTP2 ? acquireH2(t, loop) : acquireH1(t, loop, fresh);
    }

    private LoopPools pools(EventLoop loop) {
        return pools.computeIfAbsent(loop, l -> new LoopPools());
    }

    // ---------------------------------------------------------------- HTTP/1

    private Future<UpstreamStream> acquireH1(UpstreamTarget t, EventLoop loop, boolean fresh) {
        if (!t.dedicated() && !fresh) {
            ArrayDeque<UpstreamHandler> q = pools(loop).idle.get(t.poolKey());
            UpstreamHandler h;
            while (q != null && (h = q.pollLast()) != null) {
                if (h.ch.isActive() && !h.removed) {
                    return loop.newSucceededFuture(new H1Stream(h, t, loop, true));
                }
                h.ch.close();
            }
        }
        Promise<UpstreamStream> p = loop.newPromise();
        connect(t, loop, t.meshed() ? MeshHeader.Proto.HTTP1 : null).addListener(f -> {
            if (!f.isSuccess()) {
                p.tryFailure(f.cause());
                return;
            }
            Channel ch = (Channel) f.getNow();
            ch.pipeline().addLast("h1", new HttpClientCodec(4096, 65536, 16384, false, true));
            UpstreamHandler h = new UpstreamHandler(ch);
            ch.pipeline().addLast("up", h);
            if (!p.trySuccess(new H1Stream(h, t, loop, false))) {
                ch.close();
            }
        });
        return p;
    }

    private final class H1Stream implements UpstreamStream {
        private final Channel ch;
        private final UpstreamHandler h;
        private final UpstreamTarget target;
        private final EventLoop loop;
        private final boolean reused;

        H1Stream(UpstreamHandler h, UpstreamTarget target, EventLoop loop, boolean reused) {
            this.ch = h.ch;
            this.h = h;
            this.target = target;
            this.loop = loop;
            this.reused = reused;
        }

        @Override
        public boolean reused() {
            return reused;
        }

        @Override
        public Channel channel() {
            return ch;
        }

        @Override
        public boolean http2() {
            return false;
        }

        @Override
        public io.netty.channel.ChannelFuture write(io.netty.handler.codec.http.HttpObject msg) {
            return ch.write(msg);
        }

        @Override
        public void flush() {
            ch.flush();
        }

        @Override
        public void read() {
            ch.read();
        }

        @Override
        public void bind(Exchange exchange) {
            if (!h.removed) {
                h.exchange = exchange;
            }
        }

        @Override
        public void release(boolean reusable) {
            h.exchange = null;
            if (!reusable || target.dedicated() || closed || !ch.isActive() || h.removed || h.inputShutdown) {
                ch.close();
                return;
            }
            LoopPools lp = pools(loop);
            ArrayDeque<UpstreamHandler> q = lp.idle.computeIfAbsent(target.poolKey(), k -> new ArrayDeque<>(4));
            if (q.size() >= MAX_IDLE_PER_TARGET) {
                ch.close();
                return;
            }
            h.idleSince = System.nanoTime();
            q.addLast(h);
            if (!lp.sweepScheduled) {
                scheduleSweep(lp, loop, idleTimeoutNanos);
            }
            ch.read(); // notice when the server closes it
        }

        @Override
        public void abort(Http2Error code) {
            ch.close();
        }
    }

    private void scheduleSweep(LoopPools lp, EventLoop loop, long delayNanos) {
        lp.sweepScheduled = true;
        loop.schedule(() -> sweep(lp, loop), delayNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Closes the connections idle for the idle timeout and schedules the next sweep for when the oldest left
     * expires (a connection released while none is idle schedules one for its own expiry). A connection thus
     * closes once idle for the timeout, never before.
     */
    private void sweep(LoopPools lp, EventLoop loop) {
        lp.sweepScheduled = false;
        long now = System.nanoTime();
        long next = Long.MAX_VALUE;
        for (var it = lp.idle.values().iterator(); it.hasNext();) {
            ArrayDeque<UpstreamHandler> q = it.next();
            UpstreamHandler h;
            while ((h = q.peekFirst()) != null && now - h.idleSince >= idleTimeoutNanos) {
                q.pollFirst();
                h.ch.close();
            }
            if (h == null) {
                it.remove(); // a target no longer used leaves no queue behind
            } else {
                next = Math.min(next, h.idleSince + idleTimeoutNanos - now);
            }
        }
        if (next != Long.MAX_VALUE && !closed) {
            scheduleSweep(lp, loop, Math.max(next, TimeUnit.MILLISECONDS.toNanos(10)));
        }
    }

    // ---------------------------------------------------------------- HTTP/2

    private Future<UpstreamStream> acquireH2(UpstreamTarget t, EventLoop loop) {
        LoopPools lp = pools(loop);
        UpstreamTarget.PoolKey key = t.poolKey();
        H2Conn c = lp.h2.get(key);
        if (c != null && c.client != null && !c.goingAway && !c.client.connection().local().canOpenStream()) {
            // The server's limit of concurrent streams is reached on this connection: it keeps serving its open
            // streams and closes after the last; new streams go to a new connection.
            lp.h2.remove(key, c);
            c.client.retire();
            c = null;
        }
        if (c == null || c.goingAway || (c.ready.isDone() && (!c.ready.isSuccess() || !c.ready.getNow().isActive()))) {
            H2Conn fresh = new H2Conn(connectH2(t, loop));
            lp.h2.put(key, fresh);
            fresh.ready.addListener(f -> {
                if (!f.isSuccess()) {
                    lp.h2.remove(key, fresh);
                } else {
                    Channel parent = (Channel) f.getNow();
                    parent.closeFuture().addListener(x -> lp.h2.remove(key, fresh));
                    fresh.client = parent.pipeline().get(H2Client.class);
                    fresh.client.onGoingAway = () -> {
                        fresh.goingAway = true;
                        lp.h2.remove(key, fresh);
                    };
                }
            });
            c = fresh;
        }
        H2Conn conn = c;
        if (conn.ready.isDone()) {
            return openStream(conn, loop);
        }
        Promise<UpstreamStream> p = loop.newPromise();
        conn.ready.addListener(f -> {
            Future<UpstreamStream> stream = openStream(conn, loop);
            if (stream.isSuccess()) {
                p.trySuccess(stream.getNow());
            } else {
                p.tryFailure(stream.cause());
            }
        });
        return p;
    }

    private static Future<UpstreamStream> openStream(H2Conn c, EventLoop loop) {
        if (!c.ready.isSuccess()) {
            return loop.newFailedFuture(c.ready.cause());
        }
        Channel ch = c.ready.getNow();
        H2Client h = c.client != null ? c.client : ch.pipeline().get(H2Client.class);
        if (h == null || !ch.isActive()) {
            return loop.newFailedFuture(new UpstreamException(ProxyError.CONNECT_FAILED,
                    "the HTTP/2 connection closed"));
        }
        return loop.newSucceededFuture(h.open());
    }

    private Future<Channel> connectH2(UpstreamTarget t, EventLoop loop) {
        Promise<Channel> ready = loop.newPromise();
        connect(t, loop, t.meshed() ? MeshHeader.Proto.HTTP2 : null).addListener(f -> {
            if (!f.isSuccess()) {
                ready.tryFailure(f.cause());
                return;
            }
            Channel ch = (Channel) f.getNow();
            ch.config().setAutoRead(true);
            ch.pipeline().addLast("h2", H2Connection.builder(false, H2Client::new)
                    .settings(Http2Settings.defaultSettings().pushEnabled(false))
                    .validating(true)
                    .create());
            ch.read();
            ready.trySuccess(ch);
        });
        return ready;
    }

    /** The client side of a shared upstream HTTP/2 connection: a stream per exchange. */
    private static final class H2Client extends H2Connection {
        /** Marks the connection as going away (GOAWAY, or the server hung up): new streams use a new one. */
        Runnable onGoingAway;

        H2Client(io.netty.handler.codec.http2.Http2ConnectionDecoder decoder,
                io.netty.handler.codec.http2.Http2ConnectionEncoder encoder, Http2Settings settings,
                boolean decoupleCloseAndGoAway, boolean flushPreface) {
            super(decoder, encoder, settings, decoupleCloseAndGoAway, flushPreface);
        }

        UpStream open() {
            return new UpStream();
        }

        /** No new streams come to this connection any more: it closes once its open streams are done. */
        private boolean retired;

        void retire() {
            retired = true;
            closeIfRetiredAndIdle();
        }

        @Override
        void streamClosed() {
            if (retired) {
                // after the codec is done with the stream that closed (it is still counted while it is told)
                ctx.executor().execute(this::closeIfRetiredAndIdle);
            }
        }

        private void closeIfRetiredAndIdle() {
            if (connection().numActiveStreams() == 0 && ctx.channel().isActive()) {
                ctx.close(); // GOAWAY, then close
            }
        }

        @Override
        Stream newRemoteStream(int streamId, io.netty.handler.codec.http2.Http2Headers headers, boolean endStream) {
            return null; // push is disabled: a server cannot open streams
        }

        @Override
        void onGoAway(int last) {
            if (onGoingAway != null) {
                onGoingAway.run();
            }
            // Streams past the server's last stream id were refused, never processed: they may be sent again.
            forEachStream(s -> {
                if (s.id > last) {
                    s.onReset(Http2Error.REFUSED_STREAM);
                }
            });
        }

        @Override
        void inputShutdown() {
            if (onGoingAway != null) {
                onGoingAway.run();
            }
        }

        /** One exchange's stream. */
        final class UpStream extends Stream implements UpstreamStream {
            private Exchange exchange;
            /** The exchange this stream handed messages to in the current read batch. */
            private Exchange reader;
            private boolean headSeen;

            UpStream() {
                super(-1);
            }

            @Override
            void onHeaders(io.netty.handler.codec.http2.Http2Headers headers, boolean endStream) {
                HttpObject msg;
                try {
                    msg = H2Heads.message(headers, endStream, false, id);
                } catch (io.netty.handler.codec.http2.Http2Exception | RuntimeException e) {
                    // not a response (e.g. no :status): the server broke the protocol on this stream
                    protocolError();
                    return;
                }
                if (!headSeen && msg instanceof LastHttpContent && !(msg instanceof HttpResponse)) {
                    ReferenceCountUtil.release(msg); // trailers before any head
                    protocolError();
                    return;
                }
                headSeen = true;
                deliver(msg);
            }

            @Override
            void onData(ByteBuf data, boolean endStream) {
                if (exchange == null) {
                    data.release();
                    credit(); // nobody reads it: do not hold the server's window
                    return;
                }
                deliver(H2Heads.content(data, endStream));
            }

            private void deliver(HttpObject msg) {
                Exchange e = exchange;
                if (e == null) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
                reader = e;
                e.onUpstreamRead(msg);
            }

            @Override
            void onReset(Http2Error code) {
                Exchange e = exchange;
                if (e != null) {
                    e.onUpstreamReset(code);
                }
            }

            @Override
            void onClosed() {
                Exchange e = exchange;
                exchange = null;
                if (e != null) {
                    e.onUpstreamClosed();
                }
            }

            @Override
            void readComplete() {
                // the exchange read in this batch, even if the stream closed (and unbound it) since
                Exchange e = reader;
                reader = null;
                if (e != null) {
                    e.upstreamReadComplete();
                }
            }

            @Override
            public void read() {
                credit();
            }

            @Override
            public void bind(Exchange e) {
                exchange = e;
            }

            @Override
            public void release(boolean reusable) {
                exchange = null;
                if (!reusable) {
                    reset(Http2Error.CANCEL);
                }
            }

            @Override
            public void abort(Http2Error code) {
                exchange = null;
                reset(code == null ? Http2Error.CANCEL : code);
            }
        }
    }

    /** Routes an upstream HTTP/1 connection's reads and events to the exchange it serves. */
    static final class UpstreamHandler extends ChannelInboundHandlerAdapter {
        Exchange exchange;
        boolean inputShutdown;
        final Channel ch;
        /** Taken out of the pipeline (the connection switched protocols): no longer an HTTP/1 connection. */
        boolean removed;
        /** When the connection went back to the pool ({@link System#nanoTime()}). */
        long idleSince;

        UpstreamHandler(Channel ch) {
            this.ch = ch;
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            removed = true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Exchange e = exchange;
            if (e == null) {
                // Bytes on an idle pooled connection: the server broke the protocol; do not reuse it.
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            e.onUpstreamRead(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            Exchange e = exchange;
            if (e != null) {
                e.upstreamReadComplete();
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                // The server sent FIN: the connection is done. A response delimited by the close was completed by the
                // decoder before this event; an exchange still waiting for its response sees the close.
                inputShutdown = true;
                ctx.close();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Exchange e = exchange;
            exchange = null;
            if (e != null) {
                e.onUpstreamClosed();
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(Level.FINE, "upstream error: {0}", cause.toString());
            ctx.close();
        }
    }

    // ---------------------------------------------------------------- connections

    /**
     * Connects to the target; for a meshed target also does the mTLS handshake, checks the server's identity and
     * sends the mesh header for {@code proto}. The returned channel has auto-read off and nothing after TLS.
     */
    public Future<Channel> connect(UpstreamTarget t, EventLoop loop, MeshHeader.Proto proto) {
        Promise<Channel> p = loop.newPromise();
        Credentials creds = null;
        if (t.meshed()) {
            creds = credentials.current();
            if (creds == null) {
                return p.setFailure(new UpstreamException(ProxyError.NO_IDENTITY, "no certificate loaded"));
            }
        }
        Credentials c = creds;
        String tls = t.meshed() ? "true" : "no_identity";
        String peer = t.meshed() ? t.identity() : "";
        Bootstrap b = new Bootstrap().group(loop).channel(transports.clientChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("bytes", new dev.hypha.proxy.metrics.ByteCounter(metrics, "upstream",
                                tls, peer));
                    }
                });
        resolve(t, loop).addListener(rf -> {
            if (!rf.isSuccess()) {
                p.tryFailure(rf.cause());
                return;
            }
            connectResolved(b, (java.net.InetSocketAddress) rf.getNow(), t, c, proto, p);
        });
        return p;
    }

    /** Small pool for blocking name lookups, so that no event loop ever waits for DNS. Bounded queue. */
    private static final java.util.concurrent.ThreadPoolExecutor DNS = new java.util.concurrent.ThreadPoolExecutor(
            0, 2, 30, TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(256), r -> {
                Thread th = new Thread(r, "hypha-dns");
                th.setDaemon(true);
                return th;
            });

    private Future<java.net.InetSocketAddress> resolve(UpstreamTarget t, EventLoop loop) {
        String host = t.address().host();
        int port = t.address().port();
        if (io.netty.util.NetUtil.isValidIpV4Address(host) || io.netty.util.NetUtil.isValidIpV6Address(host)) {
            return loop.newSucceededFuture(new java.net.InetSocketAddress(
                    io.netty.util.NetUtil.createInetAddressFromIpAddressString(host), port));
        }
        Promise<java.net.InetSocketAddress> p = loop.newPromise();
        try {
            DNS.execute(() -> {
                try {
                    java.net.InetAddress a = java.net.InetAddress.getByName(host);
                    loop.execute(() -> p.trySuccess(new java.net.InetSocketAddress(a, port)));
                } catch (java.net.UnknownHostException e) {
                    loop.execute(() -> p.tryFailure(new UpstreamException(ProxyError.DNS_FAILED, host)));
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            p.tryFailure(new UpstreamException(ProxyError.DNS_FAILED, host + ": too many lookups pending"));
        }
        return p;
    }

    private void connectResolved(Bootstrap b, java.net.InetSocketAddress addr, UpstreamTarget t, Credentials c,
            MeshHeader.Proto proto, Promise<Channel> p) {
        ChannelFuture cf = b.connect(addr);
        cf.addListener(f -> {
            if (!f.isSuccess()) {
                Throwable cause = f.cause();
                ProxyError e = cause instanceof ConnectTimeoutException ? ProxyError.CONNECT_TIMEOUT
                        : cause instanceof ConnectException ? ProxyError.CONNECT_REFUSED : ProxyError.CONNECT_FAILED;
                p.tryFailure(new UpstreamException(e, t.address() + ": " + cause.getMessage()));
                return;
            }
            Channel ch = cf.channel();
            if (c == null) {
                p.trySuccess(ch);
                return;
            }
            MeshAllocator.install(ch);
            SslHandler ssl = c.clientContext().newHandler(ch.alloc(), t.identity(), t.meshPort());
            ssl.setHandshakeTimeoutMillis(Math.max(connectTimeoutMillis, 1000));
            ch.pipeline().addLast("tls", ssl);
            ssl.handshakeFuture().addListener(h -> {
                if (!h.isSuccess()) {
                    ch.close();
                    p.tryFailure(new UpstreamException(ProxyError.TLS_HANDSHAKE_FAILED,
                            t.address() + ": " + rootMessage(h.cause())));
                    return;
                }
                if (!MeshTls.ALPN.equals(ssl.applicationProtocol())) {
                    ch.close();
                    p.tryFailure(new UpstreamException(ProxyError.TLS_HANDSHAKE_FAILED,
                            t.address() + " did not negotiate the mesh protocol (is a Hypha proxy listening there?)"));
                    return;
                }
                PeerIdentity id = PeerIdentity.of(ssl);
                if (id == null || !t.identity().equals(id.dnsName())) {
                    ch.close();
                    p.tryFailure(new UpstreamException(ProxyError.TLS_IDENTITY_MISMATCH, "expected '" + t.identity()
                            + "', the server proved '" + (id == null ? "nothing" : id.dnsName()) + "'"));
                    return;
                }
                ch.writeAndFlush(new MeshHeader(proto, t.meshPort(), t.authority()).encode(ch.alloc()));
                p.trySuccess(ch);
            });
            ch.read();
        });
    }

    static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }

    /** Closes pooled idle connections and refuses new acquisitions (shutdown). */
    public void close() {
        closed = true;
        for (Map.Entry<EventLoop, LoopPools> e : pools.entrySet()) {
            e.getKey().execute(() -> {
                for (ArrayDeque<UpstreamHandler> q : e.getValue().idle.values()) {
                    q.forEach(h -> h.ch.close());
                    q.clear();
                }
            });
        }
    }
}
