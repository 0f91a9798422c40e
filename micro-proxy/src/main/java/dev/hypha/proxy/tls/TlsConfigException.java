package dev.hypha.proxy.tls;

/** Credentials that cannot be used; the message says what is wrong with them. */
public final class TlsConfigException extends Exception {
    public TlsConfigException(String message) {
        super(message);
    }
}
