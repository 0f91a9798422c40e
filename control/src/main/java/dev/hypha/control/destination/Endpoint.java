package dev.hypha.control.destination;

import java.util.Map;
import java.util.Objects;

/**
 * One endpoint of a service, as a source (registry file or, later, Kubernetes) sees it. {@code identity} is set
 * when a Hypha proxy fronts the endpoint; {@code proxyPort} when the proxy must be dialled directly (local mode).
 */
public record Endpoint(String host, int port, String identity, int proxyPort, int weight, Map<String, String> labels) {
    public Endpoint {
        Objects.requireNonNull(host, "host");
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    public String address() {
        return host + ":" + port;
    }
}
