package dev.hypha.proxy.http;

import dev.hypha.proxy.balance.Endpoint;
import dev.hypha.proxy.config.HostPort;
import java.util.Objects;

/**
 * Where one request goes and how: the address to connect to, the identity its proxy must prove (null: plain
 * text), the port at the destination pod (sent in the mesh header), the protocol spoken on the connection, and
 * whether the connection is the request's alone (upgrades such as WebSocket never share or reuse one). A target a
 * load balancer chose carries its {@code endpoint} (to report latency and failures to) and an {@code alternative}:
 * how to pick another endpoint when this one could not even be connected to.
 */
public record UpstreamTarget(HostPort address, String identity, int meshPort, Wire wire, boolean dedicated,
        String authority, Endpoint endpoint, java.util.function.Function<Endpoint, UpstreamTarget> alternative) {

    /** The protocol on the upstream connection. */
    public enum Wire { HTTP1, HTTP2 }

    public UpstreamTarget {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(wire, "wire");
    }

    /** A target that was not chosen by a load balancer. */
    public UpstreamTarget(HostPort address, String identity, int meshPort, Wire wire, boolean dedicated,
            String authority) {
        this(address, identity, meshPort, wire, dedicated, authority, null, null);
    }

    public boolean meshed() {
        return identity != null;
    }

    /** The key under which connections to this target may be shared. */
    public PoolKey poolKey() {
        return new PoolKey(address, identity, identity == null ? 0 : meshPort, wire);
    }

    /** Connections are shared by address, the identity to prove, the port at the destination pod and protocol. */
    public record PoolKey(HostPort address, String identity, int meshPort, Wire wire) {
    }
}
