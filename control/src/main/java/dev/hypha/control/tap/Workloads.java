package dev.hypha.control.tap;

import dev.hypha.control.ControlConfig;
import dev.hypha.control.k8s.KubernetesSource;
import dev.hypha.control.local.Registry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;

/** Picks the workload source for the mode, as {@code Sources} does for services. */
@ApplicationScoped
public class Workloads {
    @Produces
    @ApplicationScoped
    WorkloadSource source(ControlConfig config, Instance<Registry> registry, Instance<KubernetesSource> kubernetes) {
        return config.mode() == ControlConfig.Mode.kubernetes ? new KubernetesWorkloads(kubernetes.get(), config)
                : new LocalWorkloads(registry.get(), config);
    }
}
