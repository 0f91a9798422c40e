package dev.hypha.proxy.outbound;

import dev.hypha.proxy.ProxyRuntime;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.config.MeshDestination;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.detect.DetectHandler;
import dev.hypha.proxy.detect.Protocol;
import dev.hypha.proxy.http.ConnContext;
import dev.hypha.proxy.http.ExchangeContext;
import dev.hypha.proxy.http.H1ServerHandler;
import dev.hypha.proxy.http.H2Server;
import dev.hypha.proxy.http.UpstreamException;
import dev.hypha.proxy.http.UpstreamTarget;
import dev.hypha.proxy.metrics.ByteCounter;
import dev.hypha.proxy.tls.MeshHeader;
import dev.hypha.proxy.transport.Forwarder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import java.net.InetSocketAddress;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The outbound listener's pipeline, in the order a connection meets it: count bytes → original destination →
 * protocol detection (skipped for opaque ports) → HTTP/1 or HTTP/2 server with the outbound router, or opaque TCP
 * to the destination (over mTLS with a mesh header when the destination is meshed).
 */
public final class OutboundServer extends ChannelInitializer<Channel> {
    private static final Logger LOG = Logger.getLogger(OutboundServer.class.getName());

    private final ProxyRuntime rt;
    private final ExchangeContext cx;
    private final OutboundRouter router;

    public OutboundServer(ProxyRuntime rt) {
        this.rt = rt;
        ProxyConfig c = rt.config();
        this.router = new OutboundRouter(c, rt.discovery(), rt.profiles());
        this.cx = new ExchangeContext(router, rt.outboundUpstreams(), rt.metrics(), rt.tracker(),
                c.maxInitialLineBytes(), c.maxHeaderBytes());
    }

    @Override
    protected void initChannel(Channel ch) {
        rt.tracker().add(ch);
        ch.pipeline().addLast("bytes", new ByteCounter(rt.metrics(), "outbound", "", ""));
        ProxyConfig c = rt.config();
        HostPort origDst = rt.originalDestination(ch, "outbound");
        if (origDst == null && c.mode() == ProxyConfig.Mode.TRANSPARENT) {
            return;
        }
        ConnContext conn = new ConnContext(ConnContext.Direction.OUTBOUND, (InetSocketAddress) ch.remoteAddress(),
                origDst, null, false);
        if (origDst != null && c.opaquePorts().contains(origDst.port())) {
            rt.metrics().detected.inc("outbound", "opaque_port");
            forwardOpaque(ch, conn, null);
            return;
        }
        HostPort fixed = c.outboundTarget();
        if (origDst == null && fixed != null && c.opaquePorts().contains(fixed.port())) {
            rt.metrics().detected.inc("outbound", "opaque_port");
            forwardOpaque(ch, conn, null);
            return;
        }
        ch.pipeline().addLast("detect", new DetectHandler(c.detectTimeout(), (ctx, p, hello, peeked) ->
                detected(ctx, p, conn, peeked)));
    }

    private ByteBuf detected(ChannelHandlerContext ctx, Protocol p, ConnContext conn, ByteBuf peeked) {
        rt.metrics().detected.inc("outbound", p.name().toLowerCase(java.util.Locale.ROOT));
        switch (p) {
            case HTTP1 -> {
                ctx.pipeline().addLast("h1", H1ServerHandler.codec(cx));
                ctx.pipeline().addLast("h1-server", new H1ServerHandler(cx, conn));
                return peeked;
            }
            case HTTP2 -> {
                H2Server.configure(ctx.pipeline(), cx, conn, rt.config().shutdownGrace().toMillis());
                return peeked;
            }
            default -> {
                forwardOpaque(ctx.channel(), conn, peeked);
                return null;
            }
        }
    }

    private void forwardOpaque(Channel ch, ConnContext conn, ByteBuf early) {
        HostPort dst = conn.origDst() != null ? conn.origDst() : rt.config().outboundTarget();
        if (dst == null) {
            LOG.log(Level.FINE, "outbound: opaque traffic with no target (explicit mode needs {0})",
                    dev.hypha.proxy.config.ConfigParser.OUTBOUND_TARGET);
            rt.metrics().proxyErrors.inc("outbound", "no_target");
            if (early != null) {
                early.release();
            }
            ch.close();
            return;
        }
        MeshDestination d = rt.config().destination(dst.toString());
        if (d == null && rt.discovery() != null) {
            forwardDiscovered(ch, dst, early);
            return;
        }
        UpstreamTarget t = d != null && d.meshed()
                ? new UpstreamTarget(d.endpoint(), d.identity(), dst.port(), UpstreamTarget.Wire.HTTP1, true,
                        dst.toString())
                : new UpstreamTarget(d != null ? d.endpoint() : dst, null, 0, UpstreamTarget.Wire.HTTP1, true,
                        dst.toString());
        Forwarder.forward(ch, early, rt.outboundUpstreams().connect(t, ch.eventLoop(), MeshHeader.Proto.OPAQUE),
                cause -> {
                    String reason = cause instanceof UpstreamException ue ? ue.error().code() : "connect_failed";
                    rt.metrics().proxyErrors.inc("outbound", reason);
                    LOG.log(Level.FINE, "outbound TCP to {0} failed: {1}", new Object[] {dst, cause.getMessage()});
                });
    }

    /** Opaque TCP to a discovered destination: the connection is balanced over its endpoints. */
    private void forwardDiscovered(Channel ch, HostPort dst, ByteBuf early) {
        io.netty.util.concurrent.Promise<Channel> up = ch.eventLoop().newPromise();
        var res = rt.discovery().resolve(dst.toString(), ch.eventLoop());
        res.addListener(x -> {
            if (!res.isSuccess()) {
                up.tryFailure(new UpstreamException(dev.hypha.proxy.http.ProxyError.NO_ENDPOINTS,
                        res.cause().getMessage()));
                return;
            }
            var r = res.getNow();
            if (!r.exists() && r.endpoints().isEmpty()) {
                UpstreamTarget direct = new UpstreamTarget(dst, null, 0, UpstreamTarget.Wire.HTTP1, true, dst.toString());
                rt.outboundUpstreams().connect(direct, ch.eventLoop(), MeshHeader.Proto.OPAQUE)
                        .addListener(f -> complete(up, f));
                return;
            }
            connectBalanced(ch, router.balancedTcp(r.endpoints(), null, dst.toString()), up, true);
        });
        Forwarder.forward(ch, early, up, cause -> {
            String reason = cause instanceof UpstreamException ue ? ue.error().code() : "connect_failed";
            rt.metrics().proxyErrors.inc("outbound", reason);
            LOG.log(Level.FINE, "outbound TCP to {0} failed: {1}", new Object[] {dst, cause.getMessage()});
        });
    }

    private void connectBalanced(Channel ch, UpstreamTarget t, io.netty.util.concurrent.Promise<Channel> up,
            boolean mayRetry) {
        if (t == null) {
            up.tryFailure(new UpstreamException(dev.hypha.proxy.http.ProxyError.NO_ENDPOINTS, "no usable endpoint"));
            return;
        }
        rt.outboundUpstreams().connect(t, ch.eventLoop(), MeshHeader.Proto.OPAQUE).addListener(f -> {
            if (f.isSuccess()) {
                Channel c = (Channel) f.getNow();
                c.closeFuture().addListener(x -> t.endpoint().finish(0, false, 10_000_000_000L));
                up.trySuccess(c);
                return;
            }
            t.endpoint().finish(0, true, 10_000_000_000L);
            if (mayRetry && f.cause() instanceof UpstreamException ue && ue.error().code().startsWith("connect")) {
                connectBalanced(ch, t.alternative().apply(t.endpoint()), up, false);
            } else {
                up.tryFailure(f.cause());
            }
        });
    }

    private static void complete(io.netty.util.concurrent.Promise<Channel> p, io.netty.util.concurrent.Future<?> f) {
        if (f.isSuccess()) {
            p.trySuccess((Channel) f.getNow());
        } else {
            p.tryFailure(f.cause());
        }
    }

    /** Graceful shutdown of one accepted connection. */
    public static void drain(Channel ch) {
        H1ServerHandler h1 = ch.pipeline().get(H1ServerHandler.class);
        if (h1 != null) {
            h1.drain();
        } else if (ch.pipeline().get("h2") != null) {
            ch.close(); // the HTTP/2 codec sends GOAWAY and waits for open streams
        }
        // opaque TCP relays end when their peers end them, or at the end of the grace period
    }
}
