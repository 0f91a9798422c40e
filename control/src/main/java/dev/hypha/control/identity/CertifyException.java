package dev.hypha.control.identity;

import io.grpc.Status;

/** A Certify failure with the gRPC status it maps to and a message for the caller. */
public final class CertifyException extends Exception {
    private final Status.Code code;
    private final String outcome;

    public CertifyException(Status.Code code, String outcome, String message) {
        super(message, null, false, false);
        this.code = code;
        this.outcome = outcome;
    }

    public Status.Code code() {
        return code;
    }

    /** Stable label for metrics: invalid_csr, invalid_identity, bad_token, wrong_identity, issuer_unavailable. */
    public String outcome() {
        return outcome;
    }
}
