package dev.hypha.proxy.balance;

import dev.hypha.proxy.config.HostPort;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One endpoint of a balanced destination, with its load-balancing state: peak-EWMA latency, requests in flight,
 * and failure accrual (after {@value #FAILURES_TO_TRIP} consecutive failures it is penalised for 1 s, doubling to
 * 1 min, jittered; then one request probes it). Updated from any event loop; races only blur the estimates.
 */
public final class Endpoint {
    static final int FAILURES_TO_TRIP = 7;
    static final long MIN_PENALTY_NANOS = 1_000_000_000L;
    static final long MAX_PENALTY_NANOS = 60_000_000_000L;

    private final HostPort address;
    private final String identity;
    private final int proxyPort;
    private final Map<String, String> labels;
    final AtomicInteger pending = new AtomicInteger();
    private volatile double ewmaNanos;
    private volatile long lastUpdateNanos;
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private volatile long penalizedUntil;
    private volatile long penaltyNanos;
    private volatile boolean probing;

    public Endpoint(HostPort address, String identity, int proxyPort, Map<String, String> labels, long defaultRttNanos) {
        this.address = address;
        this.identity = identity;
        this.proxyPort = proxyPort;
        this.labels = labels;
        this.ewmaNanos = defaultRttNanos;
        this.lastUpdateNanos = System.nanoTime();
    }

    public HostPort address() {
        return address;
    }

    private String addressText;
    private dev.hypha.proxy.metrics.RollingStats.EdgeKey edgeKey;

    /** This endpoint as the other side of an outbound edge, made once (requests record it without allocating). */
    public dev.hypha.proxy.metrics.RollingStats.EdgeKey edgeKey() {
        var k = edgeKey;
        if (k == null) {
            edgeKey = k = new dev.hypha.proxy.metrics.RollingStats.EdgeKey("outbound", addressText(),
                    identity == null ? "" : identity, identity != null, labels);
        }
        return k;
    }

    /** The address as "host:port", made once (statistics and tap name endpoints by it on every request). */
    public String addressText() {
        String t = addressText;
        if (t == null) {
            addressText = t = address.toString();
        }
        return t;
    }

    /** Where to connect: the endpoint's proxy inbound port when discovery named one, else the address. */
    public HostPort dialAddress() {
        return proxyPort > 0 ? new HostPort(address.host(), proxyPort) : address;
    }

    public String identity() {
        return identity;
    }

    public Map<String, String> labels() {
        return labels;
    }

    /**
     * Load: the latency estimate, decayed toward zero for the time since it was last updated (so an endpoint that
     * gets no traffic becomes attractive again and is re-measured), weighted by requests in flight.
     */
    double cost(long now, long decayNanos) {
        double decayed = ewmaNanos * Math.exp(-(double) Math.max(0, now - lastUpdateNanos) / decayNanos);
        return decayed * (pending.get() + 1);
    }

    /** Whether it may take a request now (not penalised; once penalised, one probe at a time). */
    boolean available(long now) {
        if (penalizedUntil == 0) {
            return true;
        }
        return now >= penalizedUntil && !probing;
    }

    void startRequest(long now) {
        pending.incrementAndGet();
        if (penalizedUntil != 0 && now >= penalizedUntil) {
            probing = true;
        }
    }

    /** Reports a finished request: its latency (to the response head) and whether it failed. */
    public void finish(long rttNanos, boolean failure, long decayNanos) {
        pending.decrementAndGet();
        long now = System.nanoTime();
        if (rttNanos > 0) {
            double w = Math.exp(-(double) Math.max(0, now - lastUpdateNanos) / decayNanos);
            double current = ewmaNanos * w; // decayed to now
            ewmaNanos = rttNanos > current ? rttNanos : current * w + rttNanos * (1 - w);
            lastUpdateNanos = now;
        }
        if (!failure) {
            consecutiveFailures.set(0);
            penalizedUntil = 0;
            penaltyNanos = 0;
            probing = false;
            return;
        }
        int n = consecutiveFailures.incrementAndGet();
        if (probing || n >= FAILURES_TO_TRIP) {
            long p = penaltyNanos == 0 ? MIN_PENALTY_NANOS : Math.min(MAX_PENALTY_NANOS, penaltyNanos * 2);
            penaltyNanos = p;
            long jittered = (long) (p * (0.5 + ThreadLocalRandom.current().nextDouble() * 0.5));
            penalizedUntil = now + jittered;
            probing = false;
        }
    }

    public boolean penalized() {
        return penalizedUntil != 0 && System.nanoTime() < penalizedUntil;
    }

    @Override
    public String toString() {
        return address + (identity == null ? "" : "@" + identity);
    }
}
