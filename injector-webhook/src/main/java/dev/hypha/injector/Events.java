package dev.hypha.injector;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Writes Kubernetes Events off the admission path: one thread, a bounded queue ({@code hypha.injector.event-queue});
 * when it is full the event is dropped and counted, never waited for.
 */
@ApplicationScoped
public class Events {
    private static final Logger LOG = Logger.getLogger(Events.class);
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'")
            .withZone(ZoneOffset.UTC);

    private final KubernetesClient client;
    private final ExecutorService writer;
    private final Counter dropped;
    private final Counter failed;

    public Events(KubernetesClient client, InjectorConfig config, MeterRegistry metrics) {
        this.client = client;
        this.writer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(Math.max(1, config.eventQueue())), r -> {
                    Thread t = new Thread(r, "hypha-injector-events");
                    t.setDaemon(true);
                    return t;
                });
        this.dropped = metrics.counter("hypha_injector_events_dropped_total");
        this.failed = metrics.counter("hypha_injector_event_write_failures_total");
    }

    void stop(@Observes ShutdownEvent ev) {
        writer.shutdownNow();
    }

    /** Queues an Event about {@code about} in {@code namespace}; {@code type} is Normal or Warning. */
    public void emit(ObjectReference about, String namespace, String type, String reason, String message) {
        try {
            writer.execute(() -> write(about, namespace, type, reason, message));
        } catch (RejectedExecutionException e) {
            dropped.increment();
        }
    }

    private void write(ObjectReference about, String namespace, String type, String reason, String message) {
        String now = TIME.format(Instant.now());
        try {
            client.v1().events().inNamespace(namespace).resource(new EventBuilder()
                    .withNewMetadata()
                    .withName(about.getName() + "." + UUID.randomUUID().toString().substring(0, 8))
                    .withNamespace(namespace).endMetadata()
                    .withInvolvedObject(about)
                    .withType(type)
                    .withReason(reason)
                    .withMessage(message.length() > 1000 ? message.substring(0, 1000) + "…" : message)
                    .withNewSource().withComponent("hypha-injector").endSource()
                    .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                    .build()).create();
        } catch (RuntimeException e) {
            failed.increment();
            LOG.debugf("cannot write an Event (%s): %s", reason, e.getMessage());
        }
    }
}
