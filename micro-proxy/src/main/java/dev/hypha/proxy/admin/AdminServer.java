package dev.hypha.proxy.admin;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The admin port: {@code /metrics}, {@code /ready}, {@code /live}, {@code POST /shutdown}, {@code /config},
 * {@code /log-level} (GET shows it, PUT or POST with the level as body sets it).
 */
public final class AdminServer extends ChannelInitializer<SocketChannel> {
    private static final Logger LOG = Logger.getLogger(AdminServer.class.getName());

    /** What the admin endpoints read and do. */
    public interface Hooks {
        String metrics();

        BooleanSupplier ready();

        String configJson();

        /** The rolling-window statistics as JSON. */
        String statsJson();

        void shutdown();
    }

    private final Hooks hooks;

    public AdminServer(Hooks hooks) {
        this.hooks = hooks;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(4096), new Handler());
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            String path = new QueryStringDecoder(req.uri()).path();
            HttpMethod m = req.method();
            FullHttpResponse r = switch (path) {
                case "/metrics" -> m.equals(HttpMethod.GET)
                        ? text(HttpResponseStatus.OK, hooks.metrics(), "text/plain; version=0.0.4; charset=utf-8")
                        : methodNotAllowed("GET");
                case "/ready" -> hooks.ready().getAsBoolean() ? text(HttpResponseStatus.OK, "ready\n", null)
                        : text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready\n", null);
                case "/live" -> text(HttpResponseStatus.OK, "live\n", null);
                case "/config" -> text(HttpResponseStatus.OK, hooks.configJson(), "application/json");
                case "/stats" -> text(HttpResponseStatus.OK, hooks.statsJson(), "application/json");
                case "/shutdown" -> {
                    if (!m.equals(HttpMethod.POST)) {
                        yield methodNotAllowed("POST");
                    }
                    ctx.executor().execute(hooks::shutdown);
                    yield text(HttpResponseStatus.ACCEPTED, "shutting down\n", null);
                }
                case "/log-level" -> logLevel(m, req.content().toString(StandardCharsets.UTF_8).trim());
                default -> text(HttpResponseStatus.NOT_FOUND,
                        "not found; try /metrics, /ready, /live, /config, /log-level or POST /shutdown\n", null);
            };
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpUtil.setKeepAlive(r, keepAlive);
            var f = ctx.writeAndFlush(r);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private FullHttpResponse logLevel(HttpMethod m, String body) {
            if (m.equals(HttpMethod.GET)) {
                return text(HttpResponseStatus.OK, Logging.level() + "\n", null);
            }
            if (m.equals(HttpMethod.PUT) || m.equals(HttpMethod.POST)) {
                if (!Logging.setLevel(body)) {
                    return text(HttpResponseStatus.BAD_REQUEST, "unknown level '" + body
                            + "'; expected one of off, error, warn, info, debug, trace\n", null);
                }
                LOG.info("log level set to " + body);
                return text(HttpResponseStatus.OK, Logging.level() + "\n", null);
            }
            return methodNotAllowed("GET, PUT");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(Level.FINE, "admin connection error: {0}", cause.toString());
            ctx.close();
        }
    }

    private static FullHttpResponse methodNotAllowed(String allow) {
        FullHttpResponse r = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed; use " + allow + "\n", null);
        r.headers().set(HttpHeaderNames.ALLOW, allow);
        return r;
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body, String contentType) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(b));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType == null ? "text/plain; charset=utf-8" : contentType);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, b.length);
        return r;
    }
}
