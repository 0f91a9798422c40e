package dev.hypha.control.destination;

import dev.hypha.api.v1.Destination;
import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.GetDestination;
import dev.hypha.api.v1.RetryBudget;
import dev.hypha.api.v1.Update;
import dev.hypha.control.ControlConfig;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.BackPressureFailure;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Destination.Get / GetProfile: thin. Each stream watches its target in the source, translates snapshots into
 * updates, and holds at most {@code subscriber-queue} of them: a subscriber that stops reading is cut off with
 * RESOURCE_EXHAUSTED, so a stuck proxy can never grow the control plane's memory.
 */
@GrpcService
public class DestinationService implements Destination {
    private static final Logger LOG = Logger.getLogger(DestinationService.class);

    private final ServiceSource source;
    private final int queue;
    private final AtomicInteger open = new AtomicInteger();
    private final Counter updates;
    private final Counter cutOff;

    public DestinationService(ServiceSource source, ControlConfig config, MeterRegistry registry) {
        this.source = source;
        this.queue = config.subscriberQueue();
        registry.gauge("hypha.destination.streams.open", open);
        this.updates = Counter.builder("hypha.destination.updates").description("Destination updates sent")
                .register(registry);
        this.cutOff = Counter.builder("hypha.destination.streams.cut.off")
                .description("Destination streams ended because the subscriber did not read").register(registry);
    }

    @Override
    public Multi<Update> get(GetDestination req) {
        String target = req.getPath();
        if (!target.matches("[A-Za-z0-9.-]+:[0-9]{1,5}")) {
            return Multi.createFrom().failure(Status.INVALID_ARGUMENT
                    .withDescription("'" + target + "' is not an authority; expected <host>:<port>").asRuntimeException());
        }
        return stream(source, target, queue).onItem().invoke(u -> updates.increment());
    }

    /** The update stream of one target, bounded to {@code bound} queued updates. */
    Multi<Update> stream(ServiceSource source, String target, int bound) {
        return Multi.createFrom().<Update>emitter(em -> {
            UpdateTranslator translator = new UpdateTranslator();
            Object lock = new Object();
            AutoCloseable[] watch = new AutoCloseable[1];
            open.incrementAndGet();
            synchronized (lock) {
                watch[0] = source.watch(target, s -> {
                    synchronized (lock) {
                        for (Update u : translator.next(s)) {
                            em.emit(u);
                        }
                    }
                });
                for (Update u : translator.next(source.get(target))) {
                    em.emit(u); // the first message, at once
                }
            }
            em.onTermination(() -> {
                open.decrementAndGet();
                try {
                    watch[0].close();
                } catch (Exception ignored) {
                    // nothing to release
                }
            });
        }, io.smallrye.mutiny.subscription.BackPressureStrategy.BUFFER).onOverflow().buffer(bound)
                .onFailure(BackPressureFailure.class).transform(f -> {
            cutOff.increment();
            LOG.debugf("destination stream for %s cut off: the subscriber is not reading", target);
            return Status.RESOURCE_EXHAUSTED.withDescription("too many unread updates (more than " + bound
                    + "); reconnect and read faster").asRuntimeException();
        });
    }

    @Override
    public Multi<DestinationProfile> getProfile(GetDestination req) {
        String target = req.getPath();
        int colon = target.lastIndexOf(':');
        if (colon <= 0) {
            return Multi.createFrom().failure(Status.INVALID_ARGUMENT
                    .withDescription("'" + target + "' is not an authority; expected <host>:<port>").asRuntimeException());
        }
        String host = target.substring(0, colon);
        return Multi.createFrom().<DestinationProfile>emitter(em -> {
            AutoCloseable w = source.watch(target, s -> em.emit(profile(host, s)));
            em.emit(profile(host, source.get(target)));
            em.onTermination(() -> {
                try {
                    w.close();
                } catch (Exception ignored) {
                    // nothing to release
                }
            });
        }, queue);
    }

    /** The service's translated ServiceProfile, or the default profile (no routes, default retry budget). */
    static DestinationProfile profile(String host, ServiceSource.Snapshot s) {
        if (s.profile() != null) {
            return s.profile();
        }
        return DestinationProfile.newBuilder()
                .setFullyQualifiedName(s.exists() && !host.matches("[0-9.]+") ? host : "")
                .setRetryBudget(RetryBudget.newBuilder().setRetryRatio(0.2f).setMinRetriesPerSecond(10)
                        .setTtlMillis(10_000))
                .addAllOpaquePorts(s.opaquePorts())
                .build();
    }
}
