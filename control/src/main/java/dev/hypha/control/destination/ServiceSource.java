package dev.hypha.control.destination;

import java.util.List;
import java.util.function.Consumer;

/** Where services and endpoints come from (the local registry file now; Kubernetes informers later). */
public interface ServiceSource {
    /** What a source knows about one target authority at one moment. */
    record Snapshot(boolean exists, List<Endpoint> endpoints, List<Integer> opaquePorts,
            dev.hypha.api.v1.DestinationProfile profile) {
        public static final Snapshot UNKNOWN = new Snapshot(false, List.of(), List.of(), null);

        public Snapshot(boolean exists, List<Endpoint> endpoints, List<Integer> opaquePorts) {
            this(exists, endpoints, opaquePorts, null);
        }
    }

    /** Whether the source has loaded everything it watches (Kubernetes: informer caches synced). */
    default boolean ready() {
        return true;
    }

    /** The current state of {@code authority} ("host:port"). */
    Snapshot get(String authority);

    /** Calls {@code listener} with every new snapshot of {@code authority}; returns a handle that unsubscribes. */
    AutoCloseable watch(String authority, Consumer<Snapshot> listener);
}
