package dev.hypha.proxy.http;

/** A failure to reach an upstream, already mapped to the error the caller should see. */
public final class UpstreamException extends Exception {
    private final ProxyError error;

    public UpstreamException(ProxyError error, String detail) {
        super(detail, null, false, false);
        this.error = error;
    }

    public ProxyError error() {
        return error;
    }
}
