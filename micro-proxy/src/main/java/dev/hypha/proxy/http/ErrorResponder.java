package dev.hypha.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/** The one place that turns a {@link ProxyError} into a response. */
public final class ErrorResponder {
    private ErrorResponder() {
    }

    public static FullHttpResponse response(ProxyError error, String detail, ByteBufAllocator alloc, boolean grpc) {
        String text = error.description() + (detail == null ? "" : ": " + detail) + "\n";
        ByteBuf body = grpc ? alloc.buffer(0) : alloc.buffer(text.length()).writeBytes(text.getBytes(StandardCharsets.UTF_8));
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, grpc ? io.netty.handler.codec.http.HttpResponseStatus.OK : error.status(), body);
        r.headers().set(ProxyError.HEADER, error.code());
        if (grpc) {
            // gRPC clients read the status from headers: a "trailers-only" response.
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
            r.headers().set("grpc-status", Integer.toString(grpcStatus(error)));
            r.headers().set("grpc-message", "hypha proxy: " + error.code());
        } else {
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8");
        }
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return r;
    }

    /** gRPC status codes for proxy errors (UNAVAILABLE lets clients retry; DEADLINE_EXCEEDED for timeouts). */
    static int grpcStatus(ProxyError e) {
        return switch (e) {
            case CONNECT_TIMEOUT, ROUTE_TIMEOUT -> 4; // DEADLINE_EXCEEDED
            case UNAUTHENTICATED -> 16;           // UNAUTHENTICATED
            case DENIED -> 7;                     // PERMISSION_DENIED
            case BAD_REQUEST, NO_TARGET, HEADERS_TOO_LARGE, URI_TOO_LONG -> 13; // INTERNAL
            default -> 14;                        // UNAVAILABLE
        };
    }
}
