package dev.hypha.proxy.transport;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/** Finds where a redirected connection was originally going. */
@FunctionalInterface
public interface OrigDstLookup {
    /** The original destination, or null when it cannot be known (the error is logged by the caller). */
    InetSocketAddress lookup(Channel accepted) throws Exception;

    /** Reads SO_ORIGINAL_DST (iptables REDIRECT) from an epoll socket. */
    static OrigDstLookup soOriginalDst() {
        return SoOriginalDst.INSTANCE;
    }
}
