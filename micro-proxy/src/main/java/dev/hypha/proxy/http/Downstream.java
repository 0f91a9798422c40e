package dev.hypha.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http2.Http2Error;

/** The side of an exchange that received the request: an HTTP/1 connection or an HTTP/2 stream. */
public interface Downstream {
    /**
     * The connection's channel: its event loop and allocator serve the exchange, and an HTTP/1 connection that
     * switches protocols relays bytes on it. Messages go through {@link #write}, not through this channel.
     */
    Channel channel();

    /** Writes one response message (head, body chunk or end) to the client; not flushed. */
    ChannelFuture write(HttpObject msg);

    void flush();

    boolean http2();

    /** The request's scheme as the client sent it (HTTP/2's :scheme; {@code http} on an HTTP/1 connection). */
    String scheme();

    /** Reads more of the request body (the exchange calls this after each write upstream succeeded). */
    void requestMore();

    /** Adjusts a response head for this hop (connection management, body framing). */
    void prepareResponse(HttpResponse head, boolean hasBody);

    /** The exchange ended; the response was written completely unless {@code close}. */
    void exchangeDone(Exchange exchange, boolean close);

    /** Cancels: an HTTP/2 stream is reset with {@code code}; an HTTP/1 connection is closed. */
    void abort(Http2Error code);
}
