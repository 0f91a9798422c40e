package dev.hypha.injector;

import dev.hypha.inject.Pki;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.common.MapBackedConfigSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The HTTPS server needs certificate files before it starts, and the real certificate (shared by replicas through
 * Secret hypha-injector-tls) can only be fetched once the Kubernetes client exists. So at configuration time this
 * picks the directory ({@code hypha.injector.tls-dir}, else a new private temporary one) and, if it holds no
 * certificate yet, writes a short-lived placeholder; {@link ServingCertificate} replaces it at start and the TLS
 * registry reloads it. The injector is not ready until that has happened.
 */
public final class InjectorTlsConfigSourceFactory implements ConfigSourceFactory {
    private static Map<String, String> settings;

    @Override
    public Iterable<org.eclipse.microprofile.config.spi.ConfigSource> getConfigSources(ConfigSourceContext ctx) {
        return List.of(new MapBackedConfigSource("hypha-injector-tls", settings(ctx), 50) {
        });
    }

    @Override
    public OptionalInt getPriority() {
        return OptionalInt.of(50);
    }

    private static synchronized Map<String, String> settings(ConfigSourceContext ctx) {
        if (settings != null) {
            return settings;
        }
        ConfigValue v = ctx.getValue("hypha.injector.tls-dir");
        try {
            Path dir;
            if (v != null && v.getValue() != null && !v.getValue().isBlank()) {
                dir = Path.of(v.getValue());
                Files.createDirectories(dir);
            } else {
                dir = Files.createTempDirectory("hypha-injector-tls",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            if (!Files.exists(dir.resolve("tls.crt")) || !Files.exists(dir.resolve("tls.key"))) {
                Instant now = Instant.now();
                Pki.Issued ca = Pki.root("hypha-injector placeholder", now, Duration.ofHours(1));
                Pki.Issued leaf = Pki.serving(List.of("localhost"), ca, now, Duration.ofHours(1));
                ServingCertificate.writeFiles(dir, leaf.certPem(), leaf.keyPem());
            }
            settings = Map.of("hypha.injector.tls-dir", dir.toString());
            return settings;
        } catch (IOException e) {
            throw new UncheckedIOException("hypha-injector: cannot prepare the TLS directory: " + e.getMessage(), e);
        }
    }
}
