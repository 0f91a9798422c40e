package dev.hypha.injector;

import dev.hypha.inject.Capabilities;
import dev.hypha.inject.Mesh;
import dev.hypha.inject.MeshValues;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

/**
 * What injection needs from the cluster, kept current by informers so that an admission request makes no API call:
 * the installed mesh (ConfigMap {@code hypha-config}: values and trust anchors; a broken update keeps the last good
 * one), namespaces (their label and annotations), and the API server's capabilities (read once at start).
 */
@ApplicationScoped
public class MeshState {
    private static final Logger LOG = Logger.getLogger(MeshState.class);

    private final KubernetesClient client;
    private final InjectorConfig config;
    private final MeterRegistry metrics;
    private volatile Mesh mesh;
    private volatile String problem = "ConfigMap hypha-config not read yet";
    private volatile Capabilities capabilities = Capabilities.CURRENT;
    private SharedIndexInformer<Namespace> namespaces;
    private SharedIndexInformer<ConfigMap> configMap;

    public MeshState(KubernetesClient client, InjectorConfig config, MeterRegistry metrics) {
        this.client = client;
        this.config = config;
        this.metrics = metrics;
    }

    void start(@Observes StartupEvent ev) {
        try {
            VersionInfo v = client.getKubernetesVersion();
            capabilities = Capabilities.forVersion(v.getMajor(), v.getMinor());
            LOG.infof("API server %s.%s: native sidecars %s", v.getMajor(), v.getMinor(),
                    capabilities.nativeSidecars() ? "supported" : "not supported (classic sidecars)");
        } catch (RuntimeException e) {
            LOG.warnf("cannot read the API server's version (%s): assuming native sidecars are supported",
                    e.getMessage());
        }
        namespaces = client.namespaces().runnableInformer(0);
        namespaces.start();
        configMap = client.configMaps().inNamespace(config.namespace()).withName(Mesh.CONFIG_MAP)
                .inform(new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(ConfigMap cm) {
                        load(cm);
                    }

                    @Override
                    public void onUpdate(ConfigMap old, ConfigMap cm) {
                        load(cm);
                    }

                    @Override
                    public void onDelete(ConfigMap cm, boolean unknown) {
                        LOG.warnf("ConfigMap %s was deleted: injecting with the last values read", Mesh.CONFIG_MAP);
                    }
                }, 0);
    }

    void stop(@Observes ShutdownEvent ev) {
        if (namespaces != null) {
            namespaces.close();
        }
        if (configMap != null) {
            configMap.close();
        }
    }

    private void load(ConfigMap cm) {
        try {
            mesh = Mesh.fromConfigMapData(cm.getData());
            problem = null;
            LOG.infof("mesh configuration loaded (proxy %s)", mesh.values().get("proxy-version"));
        } catch (MeshValues.InvalidValuesException e) {
            problem = "ConfigMap " + Mesh.CONFIG_MAP + " is invalid: " + e.getMessage();
            metrics.counter("hypha_injector_config_errors_total").increment();
            LOG.error(problem + (mesh == null ? "" : " (still using the last valid one)"));
        }
    }

    /** The installed mesh, or null when no valid hypha-config has been seen. */
    public Mesh mesh() {
        return mesh;
    }

    public String problem() {
        return problem;
    }

    public Capabilities capabilities() {
        return capabilities;
    }

    /** The namespace from the informer's cache, or null; never blocks. */
    public Namespace cachedNamespace(String name) {
        return namespaces == null || name == null ? null : namespaces.getStore().getByKey(name);
    }

    /** The namespace from the informer's cache; a direct (blocking) read if the cache does not have it yet. */
    public Namespace namespace(String name) {
        if (name == null || name.isEmpty()) {
            return null;
        }
        Namespace ns = namespaces == null ? null : namespaces.getStore().getByKey(name);
        if (ns == null) {
            try {
                ns = client.namespaces().withName(name).get();
            } catch (RuntimeException e) {
                LOG.warnf("cannot read namespace %s: %s", name, e.getMessage());
            }
        }
        return ns;
    }
}
