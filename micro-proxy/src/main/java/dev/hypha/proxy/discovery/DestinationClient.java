package dev.hypha.proxy.discovery;

import dev.hypha.api.v1.GetDestination;
import dev.hypha.api.v1.TcpAddress;
import dev.hypha.api.v1.Update;
import dev.hypha.api.v1.WeightedAddr;
import dev.hypha.proxy.balance.Endpoint;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.grpc.GrpcChannel;
import dev.hypha.proxy.grpc.GrpcException;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Discovery for the destinations the app actually calls: one {@code Destination.Get} stream per authority, opened
 * on first use and closed when unused for the idle timeout. When the control plane goes away the last known
 * endpoints stay in use and the stream is re-opened with backoff. All stream state lives on one event loop.
 */
public final class DestinationClient implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(DestinationClient.class.getName());
    static final String METHOD = "hypha.api.v1.Destination/Get";
    private static final long DEFAULT_RTT_NANOS = 30_000_000L;

    /** What discovery knows about a target: whether it exists, and its endpoints (may be empty). */
    public record Resolution(boolean exists, List<Endpoint> endpoints) {
    }

    private final GrpcChannel channel;
    private final EventLoop loop;
    private final long idleNanos;
    private final Duration failFast;
    private final String contextToken;
    private final Map<String, Discovery> discoveries = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> sweeper;

    public DestinationClient(GrpcChannel channel, EventLoop loop, Duration idle, Duration failFast, String contextToken) {
        this.channel = channel;
        this.loop = loop;
        this.idleNanos = idle.toNanos();
        this.failFast = failFast;
        this.contextToken = contextToken;
        long every = Math.max(100, idle.toMillis() / 4);
        this.sweeper = loop.scheduleWithFixedDelay(this::sweep, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * Resolves {@code authority}; completes at once when known, else with the first answer, or fails with
     * {@link NoAnswerException} after the fail-fast timeout (the control plane did not answer).
     */
    public Future<Resolution> resolve(String authority, EventLoop caller) {
        Discovery d = discoveries.computeIfAbsent(authority, a -> new Discovery(a));
        d.lastUsed = System.nanoTime();
        Resolution r = d.resolution;
        if (r != null) {
            return caller.newSucceededFuture(r);
        }
        Promise<Resolution> p = caller.newPromise();
        loop.execute(() -> d.await(p));
        return p;
    }

    /**
     * Waits for the next change of {@code authority} (at most {@code timeout}) and completes with the state then:
     * used when a target has no usable endpoint right now, so a request waits briefly for one instead of failing.
     */
    public Future<Resolution> awaitChange(String authority, EventLoop caller, Duration timeout) {
        Discovery d = discoveries.computeIfAbsent(authority, a -> new Discovery(a));
        d.lastUsed = System.nanoTime();
        Promise<Resolution> p = caller.newPromise();
        loop.execute(() -> {
            d.changeWaiters.add(p);
            loop.schedule(() -> {
                if (d.changeWaiters.remove(p)) {
                    Resolution r = d.resolution;
                    if (r != null) {
                        p.trySuccess(r);
                    } else {
                        p.tryFailure(new NoAnswerException("no answer from the control plane about " + authority));
                    }
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        });
        return p;
    }

    /** Thrown when discovery had no answer within the fail-fast timeout. */
    public static final class NoAnswerException extends Exception {
        NoAnswerException(String m) {
            super(m, null, false, false);
        }
    }

    int open() {
        return discoveries.size();
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Discovery d : discoveries.values()) {
            if (now - d.lastUsed > idleNanos) {
                discoveries.remove(d.authority, d);
                d.close();
            }
        }
    }

    @Override
    public void close() {
        sweeper.cancel(false);
        for (Discovery d : discoveries.values()) {
            d.close();
        }
        discoveries.clear();
    }

    /** One target's stream and state. Mutated on {@link #loop} only; readers see the volatile snapshot. */
    private final class Discovery implements GrpcChannel.StreamListener<Update> {
        final String authority;
        volatile long lastUsed;
        volatile Resolution resolution;
        private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
        private boolean exists;
        private final List<Promise<Resolution>> waiters = new ArrayList<>(1);
        final List<Promise<Resolution>> changeWaiters = new ArrayList<>(1);
        private GrpcChannel.Call call;
        private boolean closed;
        private int failures;
        /** Set when a stream (re)starts: its first message is the whole current state, replacing what we knew. */
        private boolean fresh;

        Discovery(String authority) {
            this.authority = authority;
            loop.execute(this::connect);
        }

        private void connect() {
            if (closed) {
                return;
            }
            fresh = true;
            call = channel.serverStream(METHOD, GetDestination.newBuilder().setPath(authority)
                    .setContextToken(contextToken).build(), Update.parser(), this);
        }

        void await(Promise<Resolution> p) {
            if (resolution != null) {
                p.trySuccess(resolution);
                return;
            }
            waiters.add(p);
            loop.schedule(() -> {
                if (waiters.remove(p)) {
                    p.tryFailure(new NoAnswerException("no answer from the control plane about " + authority
                            + " within " + failFast.toMillis() + " ms"));
                }
            }, failFast.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public void onMessage(Update u) {
            failures = 0;
            boolean replace = fresh;
            fresh = false;
            switch (u.getUpdateCase()) {
                case ADD -> {
                    exists = true;
                    if (replace) {
                        // after a reconnect, stale endpoints were used only until this first new message
                        java.util.Set<String> now = new java.util.HashSet<>();
                        for (WeightedAddr a : u.getAdd().getAddrsList()) {
                            HostPort hp = hostPort(a.getAddr());
                            if (hp != null) {
                                now.add(hp.toString());
                            }
                        }
                        endpoints.keySet().retainAll(now);
                    }
                    for (WeightedAddr a : u.getAdd().getAddrsList()) {
                        HostPort hp = hostPort(a.getAddr());
                        if (hp == null) {
                            continue;
                        }
                        String id = a.hasTlsIdentity() ? a.getTlsIdentity().getDnsLikeIdentity() : null;
                        Endpoint old = endpoints.get(hp.toString());
                        if (old == null || !java.util.Objects.equals(old.identity(), id)
                                || !old.dialAddress().equals(a.getInboundProxyPort() > 0
                                        ? new HostPort(hp.host(), a.getInboundProxyPort()) : hp)) {
                            endpoints.put(hp.toString(), new Endpoint(hp, id, a.getInboundProxyPort(),
                                    Map.copyOf(a.getMetricLabelsMap()), DEFAULT_RTT_NANOS));
                        }
                    }
                }
                case REMOVE -> {
                    for (TcpAddress a : u.getRemove().getAddrsList()) {
                        HostPort hp = hostPort(a);
                        if (hp != null) {
                            endpoints.remove(hp.toString());
                        }
                    }
                }
                case NO_ENDPOINTS -> {
                    endpoints.clear();
                    exists = u.getNoEndpoints().getExists();
                }
                default -> {
                    return;
                }
            }
            resolution = new Resolution(exists, List.copyOf(endpoints.values()));
            for (Promise<Resolution> p : waiters) {
                p.trySuccess(resolution);
            }
            waiters.clear();
            for (Promise<Resolution> p : changeWaiters) {
                p.trySuccess(resolution);
            }
            changeWaiters.clear();
        }

        @Override
        public void onClose(GrpcException error) {
            if (closed) {
                return;
            }
            failures++;
            long backoff = Math.min(30_000, 250L << Math.min(failures, 7));
            LOG.log(failures == 1 ? Level.INFO : Level.FINE, "discovery of {0} interrupted ({1}); keeping "
                    + endpoints.size() + " known endpoint(s), reconnecting in {2} ms",
                    new Object[] {authority, error == null ? "stream ended" : error.getMessage(), backoff});
            loop.schedule(this::connect, backoff, TimeUnit.MILLISECONDS);
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

    static HostPort hostPort(TcpAddress a) {
        try {
            return new HostPort(InetAddress.getByAddress(a.getIp().toByteArray()).getHostAddress(), a.getPort());
        } catch (Exception e) {
            return null;
        }
    }
}
