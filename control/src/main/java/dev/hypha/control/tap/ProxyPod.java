package dev.hypha.control.tap;

import java.util.List;
import java.util.Map;

/**
 * One pod as tap and stats see it: where it belongs (namespace, owner), whether a proxy runs in it (identity set)
 * and where that proxy's tap port is, its addresses (for {@code --to}), and its labels (for service selectors).
 */
public record ProxyPod(String namespace, String name, String ownerKind, String ownerName, String identity,
        String tapAddress, List<String> addresses, Map<String, String> labels) {
    public ProxyPod {
        addresses = List.copyOf(addresses);
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    public boolean meshed() {
        return identity != null && tapAddress != null;
    }
}
