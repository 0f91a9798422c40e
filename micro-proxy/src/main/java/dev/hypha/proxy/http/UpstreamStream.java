package dev.hypha.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.Http2Error;

/** One upstream request/response stream: a pooled HTTP/1 connection or an HTTP/2 stream. */
public interface UpstreamStream {
    /**
     * The connection's channel (an HTTP/1 connection that switches protocols relays bytes on it). Messages go
     * through {@link #write}, not through this channel.
     */
    Channel channel();

    /** Writes one request message (head, body chunk or end) upstream; not flushed. */
    ChannelFuture write(HttpObject msg);

    void flush();

    /** Asks for more of the response: HTTP/1 reads the socket again, HTTP/2 credits what it delivered. */
    void read();

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
