package dev.hypha.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;

/**
 * The server side of a downstream HTTP/2 connection: one {@link Exchange} per stream, driven from the connection's
 * handler ({@link H2Connection}).
 */
public final class H2Server {
    /** Streams a client may open at once on one connection. */
    static final int MAX_CONCURRENT_STREAMS = 256;

    private H2Server() {
    }

    /** Adds the HTTP/2 server connection handler (codec and stream dispatch in one) to a connection's pipeline. */
    public static void configure(ChannelPipeline p, ExchangeContext cx, ConnContext conn, long gracefulShutdownMillis) {
        p.channel().config().setAutoRead(true); // the connection reads freely; each stream's window bounds memory
        p.addLast("h2", H2Connection.builder(true, (d, e, s, decouple, flushPreface) ->
                        new ServerConnection(d, e, s, decouple, flushPreface, cx, conn))
                .settings(Http2Settings.defaultSettings()
                        .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
                        .maxHeaderListSize(cx.maxHeaderBytes()))
                .gracefulShutdownMillis(gracefulShutdownMillis)
                .validating(true)
                .create());
    }

    private static final class ServerConnection extends H2Connection {
        private final ExchangeContext cx;
        private final ConnContext conn;

        ServerConnection(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings,
                boolean decoupleCloseAndGoAway, boolean flushPreface, ExchangeContext cx, ConnContext conn) {
            super(decoder, encoder, settings, decoupleCloseAndGoAway, flushPreface);
            this.cx = cx;
            this.conn = conn;
        }

        @Override
        Stream newRemoteStream(int streamId, Http2Headers headers, boolean endStream) {
            DownStream s = new DownStream(streamId, headers.scheme());
            register(s);
            HttpObject head;
            try {
                head = H2Heads.message(headers, endStream, true, streamId);
            } catch (Http2Exception | RuntimeException e) {
                // malformed pseudo-headers (e.g. no :path): the request is refused, never forwarded
                s.protocolError();
                return s;
            }
            if (!(head instanceof HttpRequest req)) {
                // END_STREAM headers without :method on a new stream: not a request
                ReferenceCountUtil.release(head);
                s.protocolError();
                return s;
            }
            s.exchange = new Exchange(cx, s, req, conn, !(req instanceof LastHttpContent));
            s.exchange.start();
            return s;
        }

        /** One downstream stream. */
        final class DownStream extends Stream implements Downstream {
            Exchange exchange;
            private final CharSequence scheme;

            DownStream(int id, CharSequence scheme) {
                super(id);
                this.scheme = scheme;
            }

            @Override
            public String scheme() {
                return scheme == null ? "http" : scheme.toString();
            }

            @Override
            void onHeaders(Http2Headers headers, boolean endStream) {
                HttpObject trailers;
                try {
                    trailers = H2Heads.message(headers, endStream, true, id);
                } catch (Http2Exception | RuntimeException e) {
                    protocolError();
                    return;
                }
                if (exchange != null && trailers instanceof LastHttpContent l && !(trailers instanceof HttpRequest)) {
                    exchange.onRequestContent(l);
                } else {
                    // a second request head on one stream
                    ReferenceCountUtil.release(trailers);
                    protocolError();
                }
            }

            @Override
            void onData(ByteBuf data, boolean endStream) {
                HttpContent c = H2Heads.content(data, endStream);
                if (exchange == null || exchange.finished()) {
                    c.release();
                    credit(); // nobody reads it: do not hold the peer's window
                    return;
                }
                exchange.onRequestContent(c);
            }

            @Override
            void onReset(Http2Error code) {
                if (exchange != null) {
                    exchange.onDownstreamReset(code);
                }
            }

            @Override
            void onClosed() {
                if (exchange != null) {
                    exchange.onDownstreamClosed();
                }
            }

            @Override
            void readComplete() {
                if (exchange != null) {
                    exchange.downstreamReadComplete();
                }
            }

            @Override
            public void requestMore() {
                credit();
            }

            @Override
            public void prepareResponse(HttpResponse head, boolean hasBody) {
                // the HTTP/2 codec frames the body itself
            }

            @Override
            public void exchangeDone(Exchange e, boolean close) {
                if (close) {
                    // Response sent while the request body was still coming: stop it (RFC 9113 §8.1).
                    reset(Http2Error.NO_ERROR);
                }
            }

            @Override
            public void abort(Http2Error code) {
                reset(code);
            }
        }
    }
}
