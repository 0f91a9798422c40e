package dev.hypha.proxy.tls;

/**
 * Holds the current {@link Credentials}. New connections take whatever is current; connections already open keep
 * the credentials they were made with, so a swap never drops a connection. The identity client (control-plane
 * issue) calls {@link #set} on every renewal; until then credentials come from PEM files.
 */
public final class CredentialStore {
    private volatile Credentials current;

    public CredentialStore(Credentials initial) {
        this.current = initial;
    }

    /** The current credentials, or null when the proxy has none (mTLS off: mesh destinations are unreachable). */
    public Credentials current() {
        return current;
    }

    public void set(Credentials next) {
        this.current = next;
    }
}
