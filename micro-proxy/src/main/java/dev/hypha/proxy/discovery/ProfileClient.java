package dev.hypha.proxy.discovery;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.GetDestination;
import dev.hypha.proxy.grpc.GrpcChannel;
import dev.hypha.proxy.grpc.GrpcException;
import io.netty.channel.EventLoop;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * ServiceProfiles for the authorities the app calls: one {@code Destination.GetProfile} stream each, opened on
 * first use, closed when idle, re-opened with backoff. Lookups never wait: a request routes with whatever profile
 * is known (none yet: the {@code [DEFAULT]} route). A profile change applies to the next request.
 */
public final class ProfileClient implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ProfileClient.class.getName());
    static final String METHOD = "hypha.api.v1.Destination/GetProfile";

    private final GrpcChannel channel;
    private final EventLoop loop;
    private final long idleNanos;
    private final Map<String, Watch> watches = new ConcurrentHashMap<>();
    private final io.netty.util.concurrent.ScheduledFuture<?> sweeper;

    public ProfileClient(GrpcChannel channel, EventLoop loop, Duration idle) {
        this.channel = channel;
        this.loop = loop;
        this.idleNanos = idle.toNanos();
        long every = Math.max(100, idle.toMillis() / 4);
        this.sweeper = loop.scheduleWithFixedDelay(this::sweep, every, every, TimeUnit.MILLISECONDS);
    }

    /** The compiled profile of {@code authority} as known now, or null (none yet, or none at all). */
    public CompiledProfile current(String authority) {
        Watch w = watches.computeIfAbsent(authority, Watch::new);
        w.lastUsed = System.nanoTime();
        return w.compiled;
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Watch w : watches.values()) {
            if (now - w.lastUsed > idleNanos) {
                watches.remove(w.authority, w);
                w.close();
            }
        }
    }

    @Override
    public void close() {
        sweeper.cancel(false);
        watches.values().forEach(Watch::close);
        watches.clear();
    }

    private final class Watch implements GrpcChannel.StreamListener<DestinationProfile> {
        final String authority;
        volatile long lastUsed = System.nanoTime();
        volatile CompiledProfile compiled;
        private GrpcChannel.Call call;
        private boolean closed;
        private int failures;

        Watch(String authority) {
            this.authority = authority;
            loop.execute(this::connect);
        }

        private void connect() {
            if (!closed) {
                call = channel.serverStream(METHOD, GetDestination.newBuilder().setPath(authority).build(),
                        DestinationProfile.parser(), this);
            }
        }

        @Override
        public void onMessage(DestinationProfile p) {
            failures = 0;
            try {
                compiled = CompiledProfile.of(p);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "profile of {0} not usable, keeping the previous one: {1}",
                        new Object[] {authority, e.getMessage()});
            }
        }

        @Override
        public void onClose(GrpcException error) {
            if (closed) {
                return;
            }
            failures++;
            loop.schedule(this::connect, Math.min(30_000, 250L << Math.min(failures, 7)), TimeUnit.MILLISECONDS);
        }

        void close() {
            loop.execute(() -> {
                closed = true;
                if (call != null) {
                    call.cancel();
                }
            });
        }
    }
}
