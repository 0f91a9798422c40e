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
    /** Where Netty's native libraries come from, for the messages that say one did not load. */
    public static final String NATIVE_HINT = "Netty loads its native libraries from -Djava.library.path (the proxy "
            + "image has them in /opt/hypha/native) or else unpacks them into java.io.tmpdir, which must then be "
            + "writable";

    public static Transports create(ProxyConfig.Transport choice, int threads, String name) {
        boolean useEpoll = switch (choice) {
            case EPOLL -> {
                if (!Epoll.isAvailable()) {
                    throw new IllegalStateException("HYPHA_PROXY_TRANSPORT=epoll but epoll is not available: "
                            + Epoll.unavailabilityCause() + ". " + NATIVE_HINT);
                }
                yield true;
            }
            case NIO -> false;
            case AUTO -> {
                boolean ok = Epoll.isAvailable();
                if (!ok && System.getProperty("os.name", "").startsWith("Linux")) {
                    java.util.logging.Logger.getLogger(Transports.class.getName()).warning(
                            "the native epoll transport did not load (" + Epoll.unavailabilityCause()
                            + "): using NIO, which is slower and cannot read SO_ORIGINAL_DST in transparent mode. "
                            + NATIVE_HINT);
                }
                yield ok;
            }
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
