package dev.hypha.injector;

import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.vertx.http.HttpsServerStart;
import io.quarkus.tls.CertificateUpdatedEvent;
import io.quarkus.tls.TlsConfiguration;
import io.quarkus.tls.TlsConfigurationRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.ObservesAsync;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.logging.Logger;

/**
 * The webhook's serving certificate, with nothing asked of the user. Secret {@code hypha-injector-tls} holds a CA
 * and a leaf for {@code hypha-injector.<ns>.svc}: the first replica to start makes them, the others (and restarts)
 * reuse them. The CA goes into the MutatingWebhookConfiguration's {@code caBundle}; the leaf is written to the TLS
 * directory and the HTTPS server reloads it. Every {@code cert-check-interval} the leaf is renewed when less than
 * {@code renew-before} is left (same CA while the CA has a year left, so the caBundle need not change), and the
 * caBundle is re-written if someone changed it. Failures are logged, counted and retried every
 * {@code retry-interval}; the injector is ready only once it serves the real certificate.
 */
@ApplicationScoped
public class ServingCertificate {
    private static final Logger LOG = Logger.getLogger(ServingCertificate.class);
    public static final String SECRET = "hypha-injector-tls";
    public static final String WEBHOOK = "hypha-injector";
    static final Duration CA_LIFETIME = Duration.ofDays(3650);

    private final KubernetesClient client;
    private final InjectorConfig config;
    private final TlsConfigurationRegistry registry;
    private final Event<CertificateUpdatedEvent> updated;
    private final MeterRegistry metrics;
    private final Clock clock = Clock.systemUTC();
    private final AtomicReference<Instant> servingNotAfter = new AtomicReference<>();
    private volatile boolean caBundleWritten;
    private volatile String lastProblem = "not synced yet";
    private final java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile ScheduledExecutorService timer;

    public ServingCertificate(KubernetesClient client, InjectorConfig config, TlsConfigurationRegistry registry,
            Event<CertificateUpdatedEvent> updated, MeterRegistry metrics) {
        this.client = client;
        this.config = config;
        this.registry = registry;
        this.updated = updated;
        this.metrics = metrics;
    }

    /**
     * The first sync waits for the HTTPS server: a certificate update fired before the server has registered for
     * updates would be lost, and it would keep serving the placeholder.
     */
    void start(@ObservesAsync HttpsServerStart ev) {
        if (!started.compareAndSet(false, true)) {
            return; // one event per event-loop verticle
        }
        metrics.gauge("hypha_injector_serving_cert_expiration_timestamp_seconds", servingNotAfter,
                r -> r.get() == null ? 0 : r.get().getEpochSecond());
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hypha-injector-cert");
            t.setDaemon(true);
            return t;
        });
        timer.execute(this::syncAndReschedule);
    }

    void stop(@Observes ShutdownEvent ev) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /** Ready: serving the certificate from the Secret, and the caBundle names its CA. */
    public boolean ready() {
        return servingNotAfter.get() != null && caBundleWritten;
    }

    public String problem() {
        return lastProblem;
    }

    private void syncAndReschedule() {
        Duration next;
        try {
            sync();
            next = config.certCheckInterval();
        } catch (RuntimeException e) {
            lastProblem = e.getMessage();
            metrics.counter("hypha_injector_cert_sync_failures_total").increment();
            LOG.warnf("serving certificate sync failed (retrying in %s): %s", config.retryInterval(), e.getMessage());
            next = config.retryInterval();
        }
        if (!timer.isShutdown()) {
            timer.schedule(this::syncAndReschedule, next.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    synchronized void sync() {
        String ns = config.namespace();
        Instant now = clock.instant();
        List<String> names = List.of(WEBHOOK + "." + ns + ".svc", WEBHOOK + "." + ns + ".svc.cluster.local",
                WEBHOOK + "." + ns, WEBHOOK);
        Secret s = client.secrets().inNamespace(ns).withName(SECRET).get();
        Material m = s == null ? null : Material.read(s);
        if (m == null || !m.usable(now, config.renewBefore())) {
            Pki.Issued ca = m != null && m.ca.getNotAfter().toInstant().isAfter(now.plus(Duration.ofDays(365)))
                    ? new Pki.Issued(m.ca, m.caKey) : Pki.root("hypha-injector-ca." + ns, now, CA_LIFETIME);
            Pki.Issued leaf = Pki.serving(names, ca, now, config.certLifetime());
            Map<String, String> data = new LinkedHashMap<>();
            data.put("ca.crt", b64(ca.certPem()));
            data.put("ca.key", b64(ca.keyPem()));
            data.put("tls.crt", b64(leaf.certPem() + ca.certPem()));
            data.put("tls.key", b64(leaf.keyPem()));
            Secret fresh = new SecretBuilder().withNewMetadata().withName(SECRET).withNamespace(ns)
                    .addToLabels("app.kubernetes.io/part-of", "hypha").endMetadata()
                    .withType("kubernetes.io/tls").withData(data).build();
            try {
                if (s == null) {
                    client.secrets().inNamespace(ns).resource(fresh).create();
                } else {
                    fresh.getMetadata().setResourceVersion(s.getMetadata().getResourceVersion());
                    client.secrets().inNamespace(ns).resource(fresh).update();
                }
                LOG.infof("serving certificate %s for %s (valid until %s)", s == null ? "made" : "renewed",
                        names.get(0), leaf.cert().getNotAfter().toInstant());
                metrics.counter("hypha_injector_cert_renewals_total").increment();
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409) {
                    throw new IllegalStateException("cannot write Secret " + ns + "/" + SECRET + ": " + e.getMessage());
                }
                LOG.info("another replica wrote the serving certificate first; using theirs");
            }
            s = client.secrets().inNamespace(ns).withName(SECRET).get();
            m = s == null ? null : Material.read(s);
            if (m == null) {
                throw new IllegalStateException("Secret " + ns + "/" + SECRET + " is unreadable after writing it");
            }
        }
        serve(m);
        writeCaBundle(m.caPem);
        lastProblem = null;
    }

    private void serve(Material m) {
        if (m.leaf.getNotAfter().toInstant().equals(servingNotAfter.get())) {
            return;
        }
        Path dir = Path.of(configDir());
        try {
            writeFiles(dir, m.leafChainPem, m.keyPem);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the serving certificate to " + dir + ": " + e.getMessage());
        }
        TlsConfiguration tls = registry.get("webhook").orElseThrow(
                () -> new IllegalStateException("TLS configuration 'webhook' is missing"));
        if (!tls.reload()) {
            throw new IllegalStateException("the HTTPS server could not reload the serving certificate");
        }
        updated.fire(new CertificateUpdatedEvent("webhook", tls));
        servingNotAfter.set(m.leaf.getNotAfter().toInstant());
    }

    private String configDir() {
        return org.eclipse.microprofile.config.ConfigProvider.getConfig().getValue("hypha.injector.tls-dir",
                String.class);
    }

    private void writeCaBundle(String caPem) {
        String bundle = b64(caPem);
        MutatingWebhookConfiguration mw = client.admissionRegistration().v1().mutatingWebhookConfigurations()
                .withName(WEBHOOK).get();
        if (mw == null) {
            caBundleWritten = false;
            throw new IllegalStateException("MutatingWebhookConfiguration " + WEBHOOK + " does not exist (hypha install "
                    + "creates it)");
        }
        boolean current = !mw.getWebhooks().isEmpty() && mw.getWebhooks().stream()
                .allMatch(w -> w.getClientConfig() != null && bundle.equals(w.getClientConfig().getCaBundle()));
        if (!current) {
            client.admissionRegistration().v1().mutatingWebhookConfigurations().withName(WEBHOOK).edit(c -> {
                for (MutatingWebhook w : c.getWebhooks()) {
                    w.getClientConfig().setCaBundle(bundle);
                }
                return c;
            });
            LOG.infof("caBundle of MutatingWebhookConfiguration %s written", WEBHOOK);
        }
        caBundleWritten = true;
    }

    static void writeFiles(Path dir, String certPem, String keyPem) throws IOException {
        Path key = dir.resolve("tls.key.tmp");
        Path cert = dir.resolve("tls.crt.tmp");
        Files.writeString(key, keyPem, StandardCharsets.US_ASCII);
        try {
            Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system
        }
        Files.writeString(cert, certPem, StandardCharsets.US_ASCII);
        Files.move(key, dir.resolve("tls.key"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.move(cert, dir.resolve("tls.crt"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII));
    }

    /** What the Secret holds, parsed; null when anything is missing or broken (then it is made again). */
    record Material(X509Certificate ca, PrivateKey caKey, String caPem, X509Certificate leaf, String leafChainPem,
            String keyPem) {
        static Material read(Secret s) {
            Map<String, String> d = s.getData();
            if (d == null) {
                return null;
            }
            try {
                String caPem = text(d.get("ca.crt"));
                String chain = text(d.get("tls.crt"));
                String key = text(d.get("tls.key"));
                X509Certificate ca = Pki.certificates(caPem, "ca.crt").get(0);
                PrivateKey caKey = Pki.privateKey(text(d.get("ca.key")), "ca.key");
                X509Certificate leaf = Pki.certificates(chain, "tls.crt").get(0);
                if (!Pki.signedBy(leaf, ca) || !Pki.matches(leaf, Pki.privateKey(key, "tls.key"))
                        || !Pki.matches(ca, caKey)) {
                    LOG.warnf("Secret %s does not hold a consistent CA, certificate and key: making new ones", SECRET);
                    return null;
                }
                return new Material(ca, caKey, caPem, leaf, chain, key);
            } catch (IllegalArgumentException | NullPointerException e) {
                LOG.warnf("Secret %s is unreadable (%s): making a new one", SECRET, e.getMessage());
                return null;
            }
        }

        boolean usable(Instant now, Duration renewBefore) {
            return leaf.getNotAfter().toInstant().isAfter(now.plus(renewBefore))
                    && !leaf.getNotBefore().toInstant().isAfter(now.plusSeconds(60));
        }

        private static String text(String b64) {
            return new String(Base64.getDecoder().decode(b64), StandardCharsets.US_ASCII);
        }
    }
}
