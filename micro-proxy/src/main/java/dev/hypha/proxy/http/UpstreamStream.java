package dev.hypha.proxy.http;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2Error;

/** One upstream request/response stream: a pooled HTTP/1 connection or an HTTP/2 stream. */
public interface UpstreamStream {
    /** A channel whose pipeline takes and gives Netty {@code HttpObject}s. */
    Channel channel();

    boolean http2();

    /** Sends this stream's responses to {@code exchange}. */
    void bind(Exchange exchange);

    /** The exchange completed; an HTTP/1 connection goes back to the pool when {@code reusable}. */
    void release(boolean reusable);

    /** Whether this stream runs on a pooled connection that served an earlier exchange (it may have gone stale). */
    default boolean reused() {
        return false;
    }

    /** Cancels the stream: HTTP/2 resets it with {@code code}, HTTP/1 closes the connection. */
    void abort(Http2Error code);
}
