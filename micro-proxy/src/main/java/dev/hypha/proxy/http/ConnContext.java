package dev.hypha.proxy.http;

import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.tls.PeerIdentity;
import java.net.InetSocketAddress;

/**
 * What is known about one downstream connection, fixed when it was accepted: its direction, the client's address,
 * where it was going (original destination, or the port named by the mesh header), and the client's mesh identity
 * when it proved one.
 */
public record ConnContext(Direction direction, InetSocketAddress client, HostPort origDst, PeerIdentity clientId,
        boolean viaMeshHttp1, String clientIp) {

    /** The client's IP as text is made once per connection (statistics name inbound peers by it per request). */
    public ConnContext(Direction direction, InetSocketAddress client, HostPort origDst, PeerIdentity clientId,
            boolean viaMeshHttp1) {
        this(direction, client, origDst, clientId, viaMeshHttp1,
                client == null || client.getAddress() == null ? "" : client.getAddress().getHostAddress());
    }

    public enum Direction {
        INBOUND("inbound"), OUTBOUND("outbound");

        private final String label;

        Direction(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public boolean meshed() {
        return clientId != null;
    }
}
