package dev.hypha.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import java.util.function.Consumer;

/** Forwards a downstream connection as opaque TCP once its upstream is connected. */
public final class Forwarder {
    private Forwarder() {
    }

    /**
     * Holds {@code early} and anything read meanwhile, waits for {@code upstream}, then relays both ways.
     * On failure the downstream is closed and {@code onFailure} is told why.
     */
    public static void forward(Channel down, ByteBuf early, Future<Channel> upstream, Consumer<Throwable> onFailure) {
        HoldHandler hold = new HoldHandler(early);
        down.config().setAutoRead(false);
        down.pipeline().addLast("hold", hold);
        upstream.addListener(f -> {
            if (!f.isSuccess()) {
                onFailure.accept(f.cause());
                down.close();
                return;
            }
            Channel up = (Channel) f.getNow();
            if (!down.isActive()) {
                up.close();
                return;
            }
            ChannelHandlerContext hctx = down.pipeline().context(hold);
            boolean ended = hold.handOver(hctx, up);
            up.flush();
            TcpRelay.join(down, up);
            if (ended) {
                down.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);
            }
        });
    }
}
