package dev.hypha.control.tap;

import java.util.List;
import java.util.Optional;

/** Where tap and stats find pods: the API server's informers, or the local registry's workloads. */
public interface WorkloadSource {
    /** Every pod of a namespace (all namespaces for null). */
    List<ProxyPod> pods(String namespace);

    /** The pods a service selects, or empty when there is no such service. */
    Optional<List<ProxyPod>> servicePods(String namespace, String service);

    /** Every service of a namespace (all namespaces for null), as "namespace/name". */
    List<String> services(String namespace);

    /** The cluster's DNS domain, for service authorities. */
    String clusterDomain();
}
