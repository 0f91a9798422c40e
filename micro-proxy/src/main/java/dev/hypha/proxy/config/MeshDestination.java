package dev.hypha.proxy.config;

import java.util.Objects;

/**
 * Where a logical destination really goes: an endpoint address and, when a Hypha proxy fronts it, the identity
 * that endpoint must prove over mTLS. A destination without identity is reached in plain text.
 */
public record MeshDestination(HostPort endpoint, String identity) {
    public MeshDestination {
        Objects.requireNonNull(endpoint, "endpoint");
    }

    public boolean meshed() {
        return identity != null;
    }
}
