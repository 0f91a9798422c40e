package dev.hypha.injector;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** {@code hypha.injector.*}: every key is in injector-webhook/README.md. */
@ConfigMapping(prefix = "hypha.injector")
public interface InjectorConfig {
    /** The namespace the injector runs in: its ConfigMap hypha-config and Secret hypha-injector-tls live there. */
    @WithDefault("hypha-system")
    String namespace();

    /** Largest AdmissionReview answered in full; bigger ones get "allowed, not injected" and a metric. */
    @WithDefault("3145728")
    int maxBodyBytes();

    /** Where the serving certificate files are written (default: a private temporary directory). */
    Optional<String> tlsDir();

    /** Lifetime of a serving certificate the injector makes. */
    @WithDefault("365d")
    Duration certLifetime();

    /** A serving certificate with less than this left is renewed. */
    @WithDefault("30d")
    Duration renewBefore();

    /** How often the certificate, the Secret and the webhook's caBundle are checked. */
    @WithDefault("1h")
    Duration certCheckInterval();

    /** How soon a failed certificate sync (API server unreachable, webhook configuration missing) is retried. */
    @WithDefault("10s")
    Duration retryInterval();

    /** Events waiting to be written; more are dropped and counted. */
    @WithDefault("256")
    int eventQueue();
}
