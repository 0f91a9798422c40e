package dev.hypha.proxy.inbound;

import dev.hypha.proxy.ProxyRuntime;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.config.InboundPolicy;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.detect.ClientHello;
import dev.hypha.proxy.detect.DetectHandler;
import dev.hypha.proxy.detect.Protocol;
import dev.hypha.proxy.http.ConnContext;
import dev.hypha.proxy.http.ExchangeContext;
import dev.hypha.proxy.http.H1ServerHandler;
import dev.hypha.proxy.http.H2Server;
import dev.hypha.proxy.http.ProxyError;
import dev.hypha.proxy.http.UpstreamTarget;
import dev.hypha.proxy.metrics.ByteCounter;
import dev.hypha.proxy.tls.Credentials;
import dev.hypha.proxy.tls.MeshAllocator;
import dev.hypha.proxy.tls.MeshHeader;
import dev.hypha.proxy.tls.MeshTls;
import dev.hypha.proxy.tls.PeerIdentity;
import dev.hypha.proxy.transport.Forwarder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The inbound listener's pipeline: count bytes → original destination → peek (mesh TLS with our ALPN? terminate
 * it, learn the client's identity, read the mesh header; application TLS or other bytes? pass through as opaque
 * TCP; plain HTTP? serve it) → connection policy → HTTP server with the inbound router, or opaque TCP to the app.
 */
public final class InboundServer extends ChannelInitializer<Channel> {
    private static final Logger LOG = Logger.getLogger(InboundServer.class.getName());
    /** A mesh client speaks first (its ClientHello), so opaque ports wait only this long before passing through. */
    private static final Duration OPAQUE_PORT_PEEK = Duration.ofMillis(100);

    private final ProxyRuntime rt;
    private final ExchangeContext cx;
    private final ExchangeContext refusing;

    public InboundServer(ProxyRuntime rt) {
        this.rt = rt;
        ProxyConfig c = rt.config();
        this.cx = new ExchangeContext(new InboundRouter(c.inboundAppHost(), c.inboundTarget(), rt.profiles()),
                rt.inboundUpstreams(), rt.metrics(), rt.tracker(), c.maxInitialLineBytes(), c.maxHeaderBytes());
        this.refusing = new ExchangeContext(InboundRouter.refusing(c.inboundPolicy() == InboundPolicy.DENY
                ? ProxyError.DENIED : ProxyError.UNAUTHENTICATED), rt.inboundUpstreams(), rt.metrics(),
                rt.tracker(), c.maxInitialLineBytes(), c.maxHeaderBytes());
    }

    @Override
    protected void initChannel(Channel ch) {
        rt.tracker().add(ch);
        ch.pipeline().addLast("bytes", new ByteCounter(rt.metrics(), "inbound", "", ""));
        ProxyConfig c = rt.config();
        HostPort origDst = rt.originalDestination(ch, "inbound");
        if (origDst == null && c.mode() == ProxyConfig.Mode.TRANSPARENT) {
            return;
        }
        HostPort dst = origDst;
        ConnContext plain = new ConnContext(ConnContext.Direction.INBOUND, (InetSocketAddress) ch.remoteAddress(),
                dst, null, false);
        boolean opaquePort = dst != null && c.opaquePorts().contains(dst.port());
        Duration peek = opaquePort && c.detectTimeout().compareTo(OPAQUE_PORT_PEEK) > 0 ? OPAQUE_PORT_PEEK
                : c.detectTimeout();
        ch.pipeline().addLast("detect", new DetectHandler(peek, (ctx, p, hello, peeked) -> {
            Protocol eff = opaquePort && p != Protocol.TLS ? Protocol.OPAQUE : p;
            return detected(ctx, eff, hello, plain, peeked);
        }));
    }

    private ByteBuf detected(ChannelHandlerContext ctx, Protocol p, ClientHello hello, ConnContext plain,
            ByteBuf peeked) {
        Credentials creds = rt.credentials().current();
        InboundPolicy policy = rt.config().inboundPolicy();
        if (p == Protocol.TLS && hello != null && hello.alpn().contains(MeshTls.ALPN) && creds != null) {
            rt.metrics().detected.inc("inbound", "mesh_tls");
            terminateMesh(ctx, creds, plain);
            return peeked;
        }
        rt.metrics().detected.inc("inbound", p.name().toLowerCase(Locale.ROOT));
        boolean allowed = policy == InboundPolicy.ALL_UNAUTHENTICATED;
        switch (p) {
            case HTTP1 -> {
                ExchangeContext x = allowed ? cx : refusing;
                ctx.pipeline().addLast("h1", H1ServerHandler.codec(x));
                ctx.pipeline().addLast("h1-server", new H1ServerHandler(x, plain));
                return peeked;
            }
            case HTTP2 -> {
                H2Server.configure(ctx.pipeline(), allowed ? cx : refusing, plain,
                        rt.config().shutdownGrace().toMillis());
                return peeked;
            }
            default -> {
                if (!allowed) {
                    rt.metrics().proxyErrors.inc("inbound", policy == InboundPolicy.DENY ? "denied" : "unauthenticated");
                    LOG.log(Level.FINE, "inbound: refused plain-text connection from {0} (policy {1})",
                            new Object[] {plain.client(), policy.text()});
                    peeked.release();
                    ctx.close();
                    return null;
                }
                forwardToApp(ctx.channel(), appAddress(plain.origDst()), peeked);
                return null;
            }
        }
    }

    private void terminateMesh(ChannelHandlerContext ctx, Credentials creds, ConnContext plain) {
        Channel ch = ctx.channel();
        MeshAllocator.install(ch);
        SslHandler ssl = creds.serverContext().newHandler(ch.alloc());
        ssl.setHandshakeTimeoutMillis(Math.max(rt.config().connectTimeout().toMillis(), 1000));
        ctx.pipeline().addLast("tls", ssl);
        ctx.pipeline().addLast("mesh-handshake", new MeshServerHandshake(rt.metrics(), (hctx, id) -> {
            if (rt.config().inboundPolicy() == InboundPolicy.DENY) {
                rt.metrics().proxyErrors.inc("inbound", "denied");
                hctx.close();
                return;
            }
            hctx.pipeline().addLast("mesh-header", new MeshHeaderDecoder((mctx, header) ->
                    meshHeader(mctx, header, id, plain), () -> rt.metrics().proxyErrors.inc("inbound",
                    "bad_mesh_header")));
        }));
        ch.read();
    }

    private void meshHeader(ChannelHandlerContext ctx, MeshHeader h, PeerIdentity id, ConnContext plain) {
        HostPort app = new HostPort(rt.config().inboundAppHost(), h.port());
        ConnContext conn = new ConnContext(ConnContext.Direction.INBOUND, plain.client(), app, id,
                h.protocol() == MeshHeader.Proto.HTTP1);
        switch (h.protocol()) {
            case HTTP2 -> H2Server.configure(ctx.pipeline(), cx, conn, rt.config().shutdownGrace().toMillis());
            case HTTP1 -> {
                ctx.pipeline().addLast("h1", H1ServerHandler.codec(cx));
                ctx.pipeline().addLast("h1-server", new H1ServerHandler(cx, conn));
            }
            case OPAQUE -> forwardToApp(ctx.channel(), app, null);
        }
    }

    private HostPort appAddress(HostPort origDst) {
        if (origDst != null) {
            return new HostPort(rt.config().inboundAppHost(), origDst.port());
        }
        return rt.config().inboundTarget();
    }

    private void forwardToApp(Channel ch, HostPort app, ByteBuf early) {
        if (app == null) {
            rt.metrics().proxyErrors.inc("inbound", "no_target");
            if (early != null) {
                early.release();
            }
            ch.close();
            return;
        }
        UpstreamTarget t = new UpstreamTarget(app, null, 0, UpstreamTarget.Wire.HTTP1, true, app.toString());
        Forwarder.forward(ch, early, rt.inboundUpstreams().connect(t, ch.eventLoop(), null), cause -> {
            rt.metrics().proxyErrors.inc("inbound", "connect_failed");
            LOG.log(Level.FINE, "inbound TCP to {0} failed: {1}", new Object[] {app, cause.getMessage()});
        });
    }
}
