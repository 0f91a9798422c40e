package dev.hypha.control.destination;

import com.google.protobuf.ByteString;
import dev.hypha.api.v1.AddrSet;
import dev.hypha.api.v1.NoEndpoints;
import dev.hypha.api.v1.ProtocolHint;
import dev.hypha.api.v1.TcpAddress;
import dev.hypha.api.v1.TlsIdentity;
import dev.hypha.api.v1.Update;
import dev.hypha.api.v1.WeightedAddr;
import dev.hypha.api.v1.WeightedAddrSet;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Model → protobuf for one subscriber: remembers what it already sent and turns each new snapshot into the
 * add / remove / no-endpoints updates that bring the subscriber up to date. Not thread-safe: one per stream.
 */
public final class UpdateTranslator {
    private final Map<String, Endpoint> sent = new HashMap<>();
    private boolean first = true;
    private boolean exists;

    public List<Update> next(ServiceSource.Snapshot s) {
        List<Update> out = new ArrayList<>(2);
        Map<String, Endpoint> now = new HashMap<>();
        for (Endpoint e : s.endpoints()) {
            now.put(e.address(), e);
        }
        List<Endpoint> removed = new ArrayList<>();
        for (Map.Entry<String, Endpoint> e : sent.entrySet()) {
            if (!now.containsKey(e.getKey())) {
                removed.add(e.getValue());
            }
        }
        List<Endpoint> added = new ArrayList<>();
        for (Endpoint e : now.values()) {
            if (!e.equals(sent.get(e.address()))) {
                added.add(e);
            }
        }
        if (now.isEmpty()) {
            if (first || !sent.isEmpty() || exists != s.exists()) {
                out.add(Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(s.exists())).build());
            }
        } else {
            if (!removed.isEmpty()) {
                AddrSet.Builder rm = AddrSet.newBuilder();
                removed.forEach(e -> rm.addAddrs(addr(e)));
                out.add(Update.newBuilder().setRemove(rm).build());
            }
            if (!added.isEmpty()) {
                WeightedAddrSet.Builder add = WeightedAddrSet.newBuilder();
                added.forEach(e -> add.addAddrs(weighted(e)));
                out.add(Update.newBuilder().setAdd(add).build());
            }
        }
        first = false;
        exists = s.exists();
        sent.clear();
        sent.putAll(now);
        return out;
    }

    static TcpAddress addr(Endpoint e) {
        try {
            return TcpAddress.newBuilder().setIp(ByteString.copyFrom(InetAddress.getByName(e.host()).getAddress()))
                    .setPort(e.port()).build();
        } catch (java.net.UnknownHostException ex) {
            throw new IllegalArgumentException("endpoint host must be an IP address: " + e.host());
        }
    }

    static WeightedAddr weighted(Endpoint e) {
        WeightedAddr.Builder b = WeightedAddr.newBuilder().setAddr(addr(e)).setWeight(e.weight())
                .putAllMetricLabels(e.labels());
        if (e.identity() != null) {
            b.setTlsIdentity(TlsIdentity.newBuilder().setDnsLikeIdentity(e.identity()));
            b.setProtocolHint(ProtocolHint.newBuilder().setH2(ProtocolHint.H2.getDefaultInstance()));
            b.setInboundProxyPort(e.proxyPort());
        }
        return b.build();
    }
}
