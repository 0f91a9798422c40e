package dev.hypha.control;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** Every {@code hypha.control.*} setting (environment: {@code HYPHA_CONTROL_*}); documented in control/README.md. */
@ConfigMapping(prefix = "hypha.control")
public interface ControlConfig {
    /**
     * {@code local}: join tokens and a registry file; {@code kubernetes}: ServiceAccount tokens checked with
     * TokenReview, services and endpoints from the API server's informers.
     */
    @WithDefault("local")
    Mode mode();

    /** The trust domain of identities and SPIFFE IDs. */
    @WithDefault("cluster.local")
    String trustDomain();

    /** Lifetime of issued leaf certificates. */
    @WithDefault("24h")
    Duration leafLifetime();

    /** How far back a leaf's notBefore is set, for clocks that run behind. */
    @WithDefault("20s")
    Duration clockSkew();

    Issuer issuer();

    /** Serve the gRPC port over TLS with the control plane's own identity (see ControlTlsConfigSourceFactory). */
    @WithDefault("true")
    boolean grpcTls();

    /** The control plane's identity; default {@code hypha-control.hypha-system.serviceaccount.identity.<td>}. */
    Optional<String> identity();

    /** Set by ControlTlsConfigSourceFactory to the identity the gRPC port's certificate names (read-only). */
    Optional<String> grpcTlsIdentity();

    /**
     * Local mode: where to keep a generated trust anchor and issuer when no issuer files are configured
     * ({@code root.crt}, {@code issuer.crt}, {@code issuer.key}; made on first start, reused after).
     */
    Optional<Path> stateDir();

    /** Local mode's service registry: a JSON file of services and their endpoints, re-read when it changes. */
    Optional<Path> registryFile();

    /** How often the registry file is checked for changes. */
    @WithDefault("1s")
    Duration registryReloadInterval();

    /** Updates a Destination subscriber may have queued before it is cut off as too slow. */
    @WithDefault("256")
    int subscriberQueue();

    Join join();

    /** Set by ControlTlsConfigSourceFactory, not by users: the control plane's own chain and key, and the anchors. */
    Internal internal();

    interface Internal {
        Optional<Path> certFile();

        Optional<Path> keyFile();

        Optional<Path> trustAnchorsFile();
    }

    /** The port proxies serve tap and stats on, in Kubernetes mode (at each pod's IP). */
    @WithDefault("4190")
    int proxyTapPort();

    /** How long the control plane waits for each proxy's Stats.Get answer. */
    @WithDefault("5s")
    Duration statsTimeout();

    enum Mode { local, kubernetes }

    /** The cluster's DNS domain, as in {@code <svc>.<ns>.svc.<cluster-domain>}. */
    @WithDefault("cluster.local")
    String clusterDomain();

    /**
     * Also read Linkerd's ServiceProfiles ({@code serviceprofiles.linkerd.io/v1alpha2}) when that CRD exists; a
     * Hypha profile for the same service wins. Off by default.
     */
    @WithDefault("false")
    boolean linkerdProfiles();

    /** The audience ServiceAccount tokens must carry for Certify. */
    @WithDefault("identity.hypha.dev")
    String tokenAudience();

    interface Issuer {
        /** PEM certificate of the issuer (intermediate), optionally followed by its chain. */
        Optional<Path> certFile();

        /** PEM PKCS#8 (or SEC1 "EC PRIVATE KEY") private key of the issuer. */
        Optional<Path> keyFile();

        /** PEM trust anchors (one or more roots). */
        Optional<Path> trustAnchorsFile();

        /** How often the files are checked for changes. */
        @WithDefault("10s")
        Duration reloadInterval();
    }

    interface Join {
        /** Longest lifetime a minted join token may have (local mode). */
        @WithDefault("24h")
        Duration maxTtl();
    }
}
