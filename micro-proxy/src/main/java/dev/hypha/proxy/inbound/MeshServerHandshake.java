package dev.hypha.proxy.inbound;

import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.tls.MeshTls;
import dev.hypha.proxy.tls.PeerIdentity;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.util.function.BiConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Waits for the inbound mesh TLS handshake, checks that the mesh ALPN protocol was chosen and that the client
 * proved an identity, then hands the connection on with that identity.
 */
final class MeshServerHandshake extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = Logger.getLogger(MeshServerHandshake.class.getName());

    private final ProxyMetrics metrics;
    private final BiConsumer<ChannelHandlerContext, PeerIdentity> next;

    MeshServerHandshake(ProxyMetrics metrics, BiConsumer<ChannelHandlerContext, PeerIdentity> next) {
        this.metrics = metrics;
        this.next = next;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            SslHandler ssl = ctx.pipeline().get(SslHandler.class);
            if (!e.isSuccess()) {
                LOG.log(Level.FINE, "inbound mTLS handshake from {0} failed: {1}",
                        new Object[] {ctx.channel().remoteAddress(), e.cause().getMessage()});
                metrics.proxyErrors.inc("inbound", "tls_handshake_failed");
                ctx.close();
                return;
            }
            PeerIdentity id = PeerIdentity.of(ssl);
            if (id == null || !MeshTls.ALPN.equals(ssl.applicationProtocol())) {
                metrics.proxyErrors.inc("inbound", "tls_no_client_identity");
                ctx.close();
                return;
            }
            ctx.pipeline().remove(this);
            next.accept(ctx, id);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.FINE, "inbound mTLS error: {0}", cause.toString());
        ctx.close();
    }
}
