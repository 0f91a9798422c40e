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
        boolean viaMeshHttp1, String clientIp, dev.hypha.proxy.metrics.RollingStats.EdgeKey inboundEdge,
        dev.hypha.proxy.metrics.SeriesCache series) {

    /**
     * The client's IP as text and, inbound, the client as the other side of an edge, are made once per connection
     * (statistics and tap name inbound peers by them on every request); {@code series} holds the metric series its
     * requests recorded last.
     */
    public ConnContext(Direction direction, InetSocketAddress client, HostPort origDst, PeerIdentity clientId,
            boolean viaMeshHttp1) {
        this(direction, client, origDst, clientId, viaMeshHttp1, ipOf(client));
    }

    private ConnContext(Direction direction, InetSocketAddress client, HostPort origDst, PeerIdentity clientId,
            boolean viaMeshHttp1, String clientIp) {
        this(direction, client, origDst, clientId, viaMeshHttp1, clientIp,
                direction == Direction.INBOUND && client != null ? new dev.hypha.proxy.metrics.RollingStats.EdgeKey(
                        "inbound", clientIp, clientId == null ? "" : clientId.dnsName(), clientId != null, null)
                        : null, new dev.hypha.proxy.metrics.SeriesCache());
    }

    private static String ipOf(InetSocketAddress client) {
        return client == null || client.getAddress() == null ? "" : client.getAddress().getHostAddress();
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
