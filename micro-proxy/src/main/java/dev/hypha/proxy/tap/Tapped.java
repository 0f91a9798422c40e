package dev.hypha.proxy.tap;

import dev.hypha.api.v1.TapEvent;

/**
 * One tapped request: the taps that want it, its id and start, and the fields every one of its events carries.
 * Used on the request's event loop only.
 */
public final class Tapped {
    private final Tap[] taps;
    private final long id;
    private final long startNanos;
    private final TapEvent base;
    private long responseNanos;
    private long bytes;
    private boolean ended;

    Tapped(Tap[] taps, long id, long startNanos, TapEvent base) {
        this.taps = taps;
        this.id = id;
        this.startNanos = startNanos;
        this.base = base;
    }

    void emit(TapEvent e) {
        for (Tap t : taps) {
            t.offer(e);
        }
    }

    /** The response head arrived (or the proxy made one). */
    public void responseInit(int status, long nowNanos) {
        if (responseNanos != 0) {
            return;
        }
        responseNanos = nowNanos;
        emit(base.toBuilder().setResponseInit(TapEvent.ResponseInit.newBuilder().setId(id).setHttpStatus(status)
                .setSinceRequestInitMicros(Math.max(0, (nowNanos - startNanos) / 1000))).build());
    }

    /** Counts response body bytes relayed. */
    public void bytes(int n) {
        bytes += n;
    }

    /**
     * The exchange finished. {@code grpcStatus} is null for a non-gRPC response; {@code resetError} names why the
     * exchange broke (null when it completed), {@code proxyError} the proxy's own answer (null when none).
     */
    public void end(long nowNanos, String grpcStatus, String resetError, String proxyError, boolean success) {
        if (ended) {
            return;
        }
        ended = true;
        int grpc = -1;
        if (grpcStatus != null) {
            try {
                grpc = Integer.parseInt(grpcStatus.trim());
            } catch (NumberFormatException e) {
                grpc = 2; // UNKNOWN: a grpc-status that is not a number
            }
        }
        TapEvent.ResponseEnd.Builder b = TapEvent.ResponseEnd.newBuilder().setId(id)
                .setSinceRequestInitMicros(Math.max(0, (nowNanos - startNanos) / 1000))
                .setSinceResponseInitMicros(responseNanos == 0 ? 0 : Math.max(0, (nowNanos - responseNanos) / 1000))
                .setResponseBytes(bytes).setGrpcStatus(grpc).setSuccess(success);
        if (resetError != null) {
            b.setResetError(resetError);
        }
        if (proxyError != null) {
            b.setProxyError(proxyError);
        }
        emit(base.toBuilder().setResponseEnd(b).build());
    }
}
