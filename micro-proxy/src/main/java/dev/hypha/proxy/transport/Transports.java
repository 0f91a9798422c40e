package dev.hypha.proxy.transport;

import dev.hypha.proxy.config.ProxyConfig;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/** The socket transport: native epoll where available (needed for SO_ORIGINAL_DST), else NIO. */
public record Transports(boolean epoll, EventLoopGroup group) {

    public static Transports create(ProxyConfig.Transport choice, int threads, String name) {
        boolean useEpoll = switch (choice) {
            case EPOLL -> {
                if (!Epoll.isAvailable()) {
                    throw new IllegalStateException("HYPHA_PROXY_TRANSPORT=epoll but epoll is not available: "
                            + Epoll.unavailabilityCause());
                }
                yield true;
            }
            case NIO -> false;
            case AUTO -> Epoll.isAvailable();
        };
        DefaultThreadFactory tf = new DefaultThreadFactory(name, true);
        EventLoopGroup g = useEpoll ? new EpollEventLoopGroup(threads, tf) : new NioEventLoopGroup(threads, tf);
        return new Transports(useEpoll, g);
    }

    public Class<? extends ServerChannel> serverChannel() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public Class<? extends Channel> clientChannel() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
