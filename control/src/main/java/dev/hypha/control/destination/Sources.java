package dev.hypha.control.destination;

import dev.hypha.control.ControlConfig;
import dev.hypha.control.k8s.KubernetesSource;
import dev.hypha.control.local.Registry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;

/** Picks the service source for the mode: the registry file (local) or the API server's informers (kubernetes). */
@ApplicationScoped
public class Sources {
    @Produces
    @ApplicationScoped
    ServiceSource source(ControlConfig config, Instance<Registry> registry, Instance<KubernetesSource> kubernetes) {
        return config.mode() == ControlConfig.Mode.kubernetes ? kubernetes.get() : registry.get();
    }
}
