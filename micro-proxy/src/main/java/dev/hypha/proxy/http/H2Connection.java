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
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayList;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One HTTP/2 connection and its streams, driven from the connection's own handler: Netty's connection handler reads
 * and writes the frames, and this class dispatches what it reads, by stream id, to the {@link Exchange} of the
 * stream, and writes an exchange's messages as frames of its stream through the connection's encoder. No channel,
 * pipeline or codec instance is made per stream (Netty's multiplexer makes all three), and no frame object or
 * per-stream event either (Netty's frame codec makes those): on a sidecar that is most of what a request costs
 * beyond the bytes themselves.
 *
 * <p>Flow control: DATA is handed to the exchange as it arrives and credited back to the peer (stream and
 * connection window) only when the exchange asks for more, i.e. once it has written what it got. A slow reader
 * thus stops its peer at one stream window, as a stream channel with auto-read off did. Bytes of a stream that
 * nobody reads any more are credited at once, and the codec credits what is left when a stream closes.
 */
abstract class H2Connection extends Http2ConnectionHandler {
    private static final Logger LOG = Logger.getLogger(H2Connection.class.getName());

    private final IntObjectHashMap<Stream> streams = new IntObjectHashMap<>();
    /** Streams that were handed frames in the current read batch: told once it completes. */
    private final ArrayList<Stream> batch = new ArrayList<>(4);
    ChannelHandlerContext ctx;
    private final Http2LocalFlowController flow;
    /** The :scheme this connection's requests carry. */
    private String scheme;
    /** A flush is due at the end of this event-loop iteration. */
    private boolean flushPending;
    private final Runnable flushTask = () -> {
        flushPending = false;
        flush(ctx);
    };

    H2Connection(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings,
            boolean decoupleCloseAndGoAway, boolean flushPreface) {
        super(decoder, encoder, settings, decoupleCloseAndGoAway, flushPreface);
        decoder.frameListener(new Frames());
        this.flow = connection().local().flowController();
        connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                closed(stream.id());
                streamClosed();
            }
        });
    }

    /** Builds the connection handler {@code factory} makes (client or server side). */
    static Builder builder(boolean server, Factory factory) {
        return new Builder(server, factory);
    }

    /** Makes the handler once the builder has the codec. */
    interface Factory {
        H2Connection create(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings,
                boolean decoupleCloseAndGoAway, boolean flushPreface);
    }

    /**
     * The builder, with the settings the proxy uses made accessible, and a connection whose send window is shared
     * among streams round-robin ({@link UniformStreamByteDistributor}) instead of Netty's default priority tree,
     * which does bookkeeping for every stream added and removed. Stream priorities (deprecated by RFC 9113) are
     * ignored. Netty's protections stay as the builder sets them (empty DATA floods, rapid resets, CONTINUATION
     * floods, queued control frames).
     */
    static final class Builder extends AbstractHttp2ConnectionHandlerBuilder<H2Connection, Builder> {
        private final boolean server;
        private final Factory factory;

        private Builder(boolean server, Factory factory) {
            this.server = server;
            this.factory = factory;
            DefaultHttp2Connection c = new DefaultHttp2Connection(server);
            c.remote().flowController(new DefaultHttp2RemoteFlowController(c, new UniformStreamByteDistributor(c)));
            connection(c);
            if (!server) {
                gracefulShutdownTimeoutMillis(0); // as Netty's client builders: closing does not wait for streams
            }
        }

        /** The builder's own flag stays unset with a connection given; its server-only defaults read this. */
        @Override
        protected boolean isServer() {
            return server;
        }

        Builder settings(Http2Settings s) {
            return initialSettings(s);
        }

        Builder gracefulShutdownMillis(long millis) {
            return gracefulShutdownTimeoutMillis(millis);
        }

        Builder validating(boolean validate) {
            return validateHeaders(validate);
        }

        H2Connection create() {
            return build();
        }

        @Override
        protected H2Connection build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
                Http2Settings settings) {
            return factory.create(decoder, encoder, settings, decoupleCloseAndGoAway(), flushPreface());
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        this.scheme = ctx.pipeline().get(SslHandler.class) != null ? "https" : "http";
        super.handlerAdded(ctx); // sends the preface when the channel is active
        if (ctx.channel().isActive()) {
            widenConnectionWindow();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        super.channelActive(ctx); // sends the preface
        widenConnectionWindow();
    }

    /**
     * The receive window of the whole connection, {@value} bytes, 16 stream windows (streams keep HTTP/2's
     * 64 KiB). A stream whose reader stopped holds its stream window uncredited; with HTTP/2's default connection
     * window of the same 64 KiB that is all of it, and every other stream's DATA on the connection (all requests
     * to one destination share it) would wait for that reader.
     */
    static final int CONNECTION_WINDOW = 1 << 20;
    private boolean widened;

    /** Raises the connection's receive window to {@link #CONNECTION_WINDOW} (a WINDOW_UPDATE after the preface). */
    private void widenConnectionWindow() {
        if (widened) {
            return;
        }
        widened = true;
        try {
            flow.incrementWindowSize(connection().connectionStream(),
                    CONNECTION_WINDOW - io.netty.handler.codec.http2.Http2CodecUtil.DEFAULT_WINDOW_SIZE);
            ctx.flush();
        } catch (Http2Exception e) {
            LOG.log(Level.FINE, "HTTP/2 connection window: {0}", e.toString());
            ctx.close();
        }
    }

    /**
     * Flushes at the end of the current event-loop iteration: the exchanges of one iteration (ten clients' requests
     * read in one wake-up, ten apps' responses) leave in one write and one TLS record instead of one each.
     */
    final void flushSoon() {
        if (flushPending) {
            return;
        }
        if (ctx.executor() instanceof io.netty.channel.SingleThreadEventLoop loop && loop.inEventLoop()) {
            flushPending = true;
            loop.executeAfterEventLoopIteration(flushTask);
        } else {
            flush(ctx);
        }
    }

    /** A HEADERS block on a stream this side does not know: a new request on a server, nothing on a client. */
    abstract Stream newRemoteStream(int streamId, Http2Headers headers, boolean endStream);

    /** A stream of this connection closed (after its {@link Stream#onClosed()}). */
    void streamClosed() {
    }

    /** The peer sent GOAWAY; streams past {@code lastStreamId} were not processed. */
    void onGoAway(int lastStreamId) {
    }

    /** Registers a stream once it has an id (its HEADERS were written or read). */
    final void register(Stream s) {
        streams.put(s.id, s);
    }

    /** Forgets stream {@code id} and tells it that it closed, once. */
    private void closed(int id) {
        Stream s = streams.remove(id);
        if (s != null) {
            s.closed = true;
            s.onClosed();
        }
    }

    /** Visits the streams open now (a copy: the visitor may close them). */
    final void forEachStream(Consumer<Stream> visitor) {
        if (streams.isEmpty()) {
            return;
        }
        for (Stream s : new ArrayList<>(streams.values())) {
            visitor.accept(s);
        }
    }

    /** What the decoder reads, dispatched by stream id. */
    private final class Frames extends Http2FrameAdapter {
        @Override
        public void onHeadersRead(ChannelHandlerContext c, int streamId, Http2Headers headers, int streamDependency,
                short weight, boolean exclusive, int padding, boolean endStream) {
            onHeadersRead(c, streamId, headers, padding, endStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext c, int streamId, Http2Headers headers, int padding,
                boolean endStream) {
            Stream s = streams.get(streamId);
            if (s == null) {
                s = newRemoteStream(streamId, headers, endStream);
                if (s != null) {
                    touched(s);
                }
            } else {
                touched(s);
                s.onHeaders(headers, endStream);
            }
        }

        @Override
        public int onDataRead(ChannelHandlerContext c, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            Stream s = streams.get(streamId);
            if (s == null) {
                return data.readableBytes() + padding; // nobody reads it: credited at once
            }
            touched(s);
            s.unacked += data.readableBytes() + padding;
            s.onData(data.retain(), endOfStream);
            return 0; // credited once the exchange has written it on (credit())
        }

        @Override
        public void onRstStreamRead(ChannelHandlerContext c, int streamId, long errorCode) {
            Stream s = streams.get(streamId);
            if (s != null) {
                Http2Error code = Http2Error.valueOf(errorCode);
                s.onReset(code == null ? Http2Error.INTERNAL_ERROR : code);
            }
        }

        @Override
        public void onGoAwayRead(ChannelHandlerContext c, int lastStreamId, long errorCode, ByteBuf debugData) {
            onGoAway(lastStreamId);
        }
    }

    private void touched(Stream s) {
        if (!s.inBatch) {
            s.inBatch = true;
            batch.add(s);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        // index loop: a stream told may start another's work, but never a read of this connection
        for (int i = 0; i < batch.size(); i++) {
            Stream s = batch.get(i);
            s.inBatch = false;
            s.readComplete();
        }
        batch.clear();
        super.channelReadComplete(ctx); // flushes what the batch wrote here, and WINDOW_UPDATEs
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        super.userEventTriggered(ctx, evt);
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
            inputShutdown();
            ctx.close(); // the peer hung up: the codec closes what is still open
        }
    }

    /** The peer half-closed the TCP connection. */
    void inputShutdown() {
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        // The codec closes every stream as the connection goes (each is told above); what is left is told here.
        super.channelInactive(ctx);
        forEachStream(s -> closed(s.id));
    }

    @Override
    protected void onStreamError(ChannelHandlerContext ctx, boolean outbound, Throwable cause,
            Http2Exception.StreamException e) {
        Stream s = streams.get(e.streamId());
        if (s != null && !outbound) {
            // The peer broke the protocol on this stream (a failed write tells its exchange through its promise):
            // the exchange hears of it first, then the stream is reset.
            s.onReset(e.error());
        }
        super.onStreamError(ctx, outbound, cause, e);
    }

    @Override
    protected void onConnectionError(ChannelHandlerContext ctx, boolean outbound, Throwable cause,
            Http2Exception e) {
        LOG.log(Level.FINE, "HTTP/2 connection error: {0}", String.valueOf(cause));
        super.onConnectionError(ctx, outbound, cause, e); // GOAWAY, then close
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (io.netty.handler.codec.http2.Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null) {
            super.exceptionCaught(ctx, cause);
            return;
        }
        LOG.log(Level.FINE, "HTTP/2 connection error: {0}", cause.toString());
        ctx.close();
    }

    /** One stream of this connection; all methods run on the connection's event loop. */
    abstract class Stream {
        /** The stream id; a client stream gets one when its HEADERS are written. */
        int id;
        /** DATA bytes handed to the exchange and not yet credited back to the peer. */
        private int unacked;
        boolean closed;
        private boolean inBatch;

        Stream(int id) {
            this.id = id;
        }

        /** A HEADERS block after the first (trailers, or a final head after an interim one). */
        abstract void onHeaders(Http2Headers headers, boolean endStream);

        /** DATA of this stream; the stream owns {@code data}. */
        abstract void onData(ByteBuf data, boolean endStream);

        abstract void onReset(Http2Error code);

        /** The stream closed (both ends done, reset, or the connection went). */
        abstract void onClosed();

        abstract void readComplete();

        /** Returns the DATA handed on so far to the peer's stream and connection windows. */
        final void credit() {
            int n = unacked;
            if (n == 0 || closed) {
                return;
            }
            unacked = 0;
            Http2Stream st = connection().stream(id);
            if (st == null) {
                return;
            }
            try {
                if (flow.consumeBytes(st, n)) {
                    H2Connection.this.flush(ctx); // a WINDOW_UPDATE was written
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
                last = writeHeaders(h, end);
                if (interim || end || !(obj instanceof HttpContent)) {
                    ReferenceCountUtil.release(obj);
                    return last;
                }
            }
            if (obj instanceof LastHttpContent l) {
                boolean trailers = !l.trailingHeaders().isEmpty();
                ByteBuf content = l.content();
                if (content.isReadable() || (!trailers && !(obj instanceof FullHttpMessage))) {
                    last = encoder().writeData(ctx, id, content, 0, !trailers, ctx.newPromise());
                } else {
                    content.release();
                }
                if (trailers) {
                    last = writeHeaders(H2Heads.trailers(l.trailingHeaders()), true);
                }
            } else if (obj instanceof HttpContent c) {
                last = encoder().writeData(ctx, id, c.content(), 0, false, ctx.newPromise());
            }
            return last != null ? last : ctx.newSucceededFuture();
        }

        private ChannelFuture writeHeaders(Http2Headers h, boolean end) {
            if (id > 0) {
                return encoder().writeHeaders(ctx, id, h, 0, end, ctx.newPromise());
            }
            // a new client stream: its id is the next of this side, in the order HEADERS are sent
            int next = connection().local().incrementAndGetNextStreamId();
            if (next < 0) {
                closed = true;
                return ctx.newFailedFuture(new IllegalStateException("stream ids of this connection are used up"));
            }
            id = next;
            ChannelFuture f = encoder().writeHeaders(ctx, id, h, 0, end, ctx.newPromise());
            if (connection().stream(id) != null) {
                register(this);
            } else {
                closed = true; // never opened (e.g. the peer's stream limit): the failed write tells the exchange
            }
            return f;
        }

        public final void flush() {
            flushSoon();
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
            if (!closed && id > 0 && ctx.channel().isActive()) {
                resetStream(ctx, id, code.code(), ctx.newPromise());
                H2Connection.this.flush(ctx);
            }
        }
    }
}
