package dev.hypha.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.util.function.Consumer;

/** Every accepted (downstream) connection, so that shutdown can drain them and wait for them to end. */
public final class ConnectionTracker {
    private final ChannelGroup accepted = new DefaultChannelGroup("accepted", GlobalEventExecutor.INSTANCE);
    private volatile boolean draining;

    public void add(Channel ch) {
        accepted.add(ch);
    }

    public int size() {
        return accepted.size();
    }

    public boolean draining() {
        return draining;
    }

    /** Marks the proxy as draining and asks each connection to end gracefully (on its own event loop). */
    public void drain(Consumer<Channel> graceful) {
        draining = true;
        for (Channel ch : accepted) {
            ch.eventLoop().execute(() -> graceful.accept(ch));
        }
    }

    public void closeAll() {
        accepted.close();
    }
}
