package dev.hypha.control.tap;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/** Puts the caller's bearer token (the {@code authorization: Bearer <token>} header) into the call's context. */
@ApplicationScoped
@GlobalInterceptor
public class BearerInterceptor implements ServerInterceptor {
    static final Context.Key<String> TOKEN = Context.key("hypha-bearer");
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization",
            Metadata.ASCII_STRING_MARSHALLER);

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String h = headers.get(AUTHORIZATION);
        String token = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).trim() : null;
        return Contexts.interceptCall(Context.current().withValue(TOKEN, token), call, headers, next);
    }
}
