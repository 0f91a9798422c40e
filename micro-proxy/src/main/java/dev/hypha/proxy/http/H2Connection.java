package dev.hypha.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayList;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The streams of one HTTP/2 connection, driven from the connection's own handler: frames are dispatched to the
 * {@link Exchange} of their stream by stream id, and an exchange's messages are written as frames of its stream.
 * No channel, pipeline or codec instance is made per stream (Netty's multiplexer makes all three), which on a
 * sidecar is most of what a request costs beyond the bytes themselves.
 *
 * <p>Flow control: DATA is handed to the exchange as it arrives and credited back to the peer (stream and
 * connection window) only when the exchange asks for more, i.e. once it has written what it got. A slow reader
 * thus stops its peer at one stream window, as a stream channel with auto-read off did. Bytes of a stream that
 * nobody reads any more are credited at once, and the codec credits what is left when a stream closes.
 */
abstract class H2Connection extends Http2ChannelDuplexHandler {
    private static final Logger LOG = Logger.getLogger(H2Connection.class.getName());

    private final IntObjectHashMap<Stream> streams = new IntObjectHashMap<>();
    /** Streams that were handed frames in the current read batch: told once it completes. */
    private final ArrayList<Stream> batch = new ArrayList<>(4);
    ChannelHandlerContext ctx;
    private Http2Connection connection;
    private Http2LocalFlowController flow;
    /** The :scheme this connection's requests carry. */
    private String scheme;

    @Override
    protected void handlerAdded0(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
        this.connection = codec.connection();
        this.flow = connection.local().flowController();
        this.scheme = ctx.pipeline().get(SslHandler.class) != null ? "https" : "http";
    }

    /**
     * A frame codec builder whose connection shares the send window among streams round-robin
     * ({@link io.netty.handler.codec.http2.UniformStreamByteDistributor}) instead of Netty's default priority tree,
     * which does bookkeeping for every stream added and removed. Stream priorities (deprecated by RFC 9113) are
     * ignored.
     */
    static Http2FrameCodecBuilder codec(boolean server) {
        io.netty.handler.codec.http2.DefaultHttp2Connection c =
                new io.netty.handler.codec.http2.DefaultHttp2Connection(server);
        c.remote().flowController(new io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController(c,
                new io.netty.handler.codec.http2.UniformStreamByteDistributor(c)));
        CodecBuilder b = new CodecBuilder(c);
        if (!server) {
            b.gracefulShutdownTimeoutMillis(0); // as Netty's client builder: closing does not wait for streams
        }
        return b;
    }

    /** Gives the builder a connection of our own (its setter is protected). */
    private static final class CodecBuilder extends Http2FrameCodecBuilder {
        private final boolean server;

        CodecBuilder(Http2Connection c) {
            this.server = c.isServer();
            connection(c);
        }

        /** The builder's own flag stays unset with a connection given; its server-only defaults read this. */
        @Override
        public boolean isServer() {
            return server;
        }
    }

    /** A HEADERS frame for a stream this side does not know: a new request on a server, nothing on a client. */
    abstract Stream newRemoteStream(Http2HeadersFrame frame);

    /** The peer sent GOAWAY; streams past its last stream id were not processed. */
    void onGoAway(Http2GoAwayFrame frame) {
    }

    /** Registers a stream once it has an id (its HEADERS were written or read). */
    final void register(Stream s) {
        streams.put(s.stream.id(), s);
    }

    /** Visits the streams open now (a copy: the visitor may close them). */
    final void forEachStream(java.util.function.Consumer<Stream> visitor) {
        if (streams.isEmpty()) {
            return;
        }
        for (Stream s : new ArrayList<>(streams.values())) {
            visitor.accept(s);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2StreamFrame f && f.stream() != null) {
            Stream s = streams.get(f.stream().id());
            if (msg instanceof Http2HeadersFrame h) {
                if (s == null) {
                    s = newRemoteStream(h);
                    if (s != null) {
                        touched(s);
                    }
                } else {
                    touched(s);
                    s.onHeaders(h);
                }
                return;
            }
            if (msg instanceof Http2DataFrame d) {
                if (s == null) {
                    d.release();
                    return;
                }
                touched(s);
                s.onData(d);
                return;
            }
            if (msg instanceof Http2ResetFrame rst) {
                if (s != null) {
                    Http2Error code = Http2Error.valueOf(rst.errorCode());
                    s.onReset(code == null ? Http2Error.INTERNAL_ERROR : code);
                }
                return;
            }
        } else if (msg instanceof Http2GoAwayFrame g) {
            try {
                onGoAway(g);
            } finally {
                g.release();
            }
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void touched(Stream s) {
        if (!s.inBatch) {
            s.inBatch = true;
            batch.add(s);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // index loop: a stream told may start another's work, but never a read of this connection
        for (int i = 0; i < batch.size(); i++) {
            Stream s = batch.get(i);
            s.inBatch = false;
            s.readComplete();
        }
        batch.clear();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent e) {
            if (e.type() == Http2FrameStreamEvent.Type.State && e.stream().state() == Http2Stream.State.CLOSED) {
                Stream s = streams.remove(e.stream().id());
                if (s != null) {
                    s.closed = true;
                    s.onClosed();
                }
            }
            return;
        }
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
            inputShutdown();
            ctx.close(); // the peer hung up: the codec closes what is still open
        }
        ReferenceCountUtil.release(evt);
    }

    /** The peer half-closed the TCP connection. */
    void inputShutdown() {
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        // The codec closes every stream as the connection goes (each is told above); what is left is told here.
        forEachStream(s -> {
            streams.remove(s.stream.id());
            s.closed = true;
            s.onClosed();
        });
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2FrameStreamException se) {
            // A stream error: the codec has reset the stream already.
            Stream s = streams.get(se.stream().id());
            if (s != null) {
                s.onReset(se.error());
            }
            return;
        }
        LOG.log(Level.FINE, "HTTP/2 connection error: {0}", cause.toString());
        ctx.close();
    }

    /** One stream of this connection; all methods run on the connection's event loop. */
    abstract class Stream {
        final Http2FrameStream stream;
        /** DATA bytes handed to the exchange and not yet credited back to the peer. */
        private int unacked;
        boolean closed;
        private boolean inBatch;

        Stream(Http2FrameStream stream) {
            this.stream = stream;
        }

        /** A HEADERS frame after the first (trailers, or a final head after an interim one). */
        abstract void onHeaders(Http2HeadersFrame frame);

        abstract void onData(Http2DataFrame frame);

        abstract void onReset(Http2Error code);

        /** The stream closed (both ends done, reset, or the connection went). */
        abstract void onClosed();

        abstract void readComplete();

        /** Counts DATA handed on; {@link #credit()} returns it to the peer. */
        final void received(Http2DataFrame d) {
            unacked += d.initialFlowControlledBytes();
        }

        /** Returns the DATA handed on so far to the peer's stream and connection windows. */
        final void credit() {
            int n = unacked;
            if (n == 0 || closed) {
                return;
            }
            unacked = 0;
            Http2Stream st = connection.stream(stream.id());
            if (st == null) {
                return;
            }
            try {
                if (flow.consumeBytes(st, n)) {
                    ctx.flush(); // a WINDOW_UPDATE was written
                }
            } catch (Http2Exception e) {
                LOG.log(Level.FINE, "HTTP/2 flow control: {0}", e.toString());
                ctx.close();
            }
        }

        /** The connection's channel (its event loop and allocator). */
        public final io.netty.channel.Channel channel() {
            return ctx.channel();
        }

        public final boolean http2() {
            return true;
        }

        /** Writes one message of this stream as its frames (not flushed); the future is the last frame's. */
        public final ChannelFuture write(HttpObject obj) {
            ChannelFuture last = null;
            if (obj instanceof HttpMessage m) {
                Http2Headers h = H2Heads.headers(m, scheme);
                boolean interim = m instanceof HttpResponse r && r.status().code() >= 100 && r.status().code() < 200
                        && r.status().code() != 101;
                boolean end = !interim && obj instanceof FullHttpMessage full && !full.content().isReadable()
                        && full.trailingHeaders().isEmpty();
                boolean first = stream.id() <= 0;
                last = ctx.write(new DefaultHttp2HeadersFrame(h, end).stream(stream));
                if (first && stream.id() > 0) {
                    register(this);
                }
                if (interim || end || !(obj instanceof HttpContent)) {
                    ReferenceCountUtil.release(obj);
                    return last;
                }
            }
            if (obj instanceof LastHttpContent l) {
                boolean trailers = !l.trailingHeaders().isEmpty();
                ByteBuf content = l.content();
                if (content.isReadable() || (!trailers && !(obj instanceof FullHttpMessage))) {
                    last = ctx.write(new DefaultHttp2DataFrame(content, !trailers).stream(stream));
                } else {
                    content.release();
                }
                if (trailers) {
                    last = ctx.write(new DefaultHttp2HeadersFrame(
                            H2Heads.trailers(l.trailingHeaders()), true).stream(stream));
                }
            } else if (obj instanceof HttpContent c) {
                last = ctx.write(new DefaultHttp2DataFrame(c.content(), false).stream(stream));
            }
            return last != null ? last : ctx.newSucceededFuture();
        }

        public final void flush() {
            ctx.flush();
        }

        /**
         * The peer broke the protocol on this stream: the exchange hears of it first (a reset closes the stream, and
         * a closed stream no longer has an exchange to tell), then the stream is reset.
         */
        final void protocolError() {
            onReset(Http2Error.PROTOCOL_ERROR);
            reset(Http2Error.PROTOCOL_ERROR);
        }

        /** Resets the stream with {@code code} if it is still open on the wire. */
        final void reset(Http2Error code) {
            if (!closed && stream.id() > 0 && ctx.channel().isActive()) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(code).stream(stream));
            }
        }
    }

    // ---------------------------------------------------------------- frames to messages

    /** A HEADERS frame as the message it starts (or, with END_STREAM and no pseudo-headers, as trailers). */
    static HttpObject message(Http2HeadersFrame frame, boolean request) throws Http2Exception {
        return H2Heads.message(frame.headers(), frame.isEndStream(), request,
                frame.stream() == null ? 0 : frame.stream().id());
    }

    /** A DATA frame as body content; takes over the frame's buffer. */
    static HttpContent content(Http2DataFrame d) {
        return H2Heads.content(d.content(), d.isEndStream());
    }
}
