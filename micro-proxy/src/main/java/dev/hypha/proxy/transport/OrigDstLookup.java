package dev.hypha.proxy.transport;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/** Finds where a redirected connection was originally going. */
@FunctionalInterface
public interface OrigDstLookup {
    /** The original destination, or null when it cannot be known (the error is logged by the caller). */
    InetSocketAddress lookup(Channel accepted) throws Exception;

    /**
     * Reads SO_ORIGINAL_DST (iptables REDIRECT) from an epoll socket. Setting up the FFM downcall behind it takes tens
     * of milliseconds, so it happens in {@link #prepare()} or at the first lookup, not when this is called.
     */
    static OrigDstLookup soOriginalDst() {
        return SoOriginalDst.Deferred.INSTANCE;
    }

    /** Does the set-up the first lookup would otherwise wait for; the proxy calls it beside its own start-up. */
    default void prepare() {
    }
}
