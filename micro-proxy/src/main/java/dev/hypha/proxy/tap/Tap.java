package dev.hypha.proxy.tap;

import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.TapFilter;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * One open tap: its filter, its rate (requests admitted per second, a fixed one-second window), and a bounded
 * queue of events drained by the tap's own stream. Events come from any event loop; when the queue is full (the
 * caller reads too slowly) events are dropped and counted, never buffered without bound.
 */
final class Tap {
    static final int QUEUE = 1024;
    private final TapFilter filter;
    private final int maxRps;
    private final Consumer<Tap> wake;
    private final ArrayDeque<TapEvent> queue = new ArrayDeque<>();
    private long windowStart;
    private int admitted;
    private long dropped;
    private boolean closed;

    Tap(TapFilter filter, int maxRps, Consumer<Tap> wake) {
        this.filter = filter;
        this.maxRps = maxRps;
        this.wake = wake;
    }

    TapFilter filter() {
        return filter;
    }

    /** Whether one more request may be tapped within this second. */
    synchronized boolean admit() {
        long now = System.nanoTime();
        if (now - windowStart >= 1_000_000_000L) {
            windowStart = now;
            admitted = 0;
        }
        if (admitted >= maxRps) {
            return false;
        }
        admitted++;
        return true;
    }

    void offer(TapEvent e) {
        boolean first;
        synchronized (this) {
            if (closed) {
                return;
            }
            if (queue.size() >= QUEUE) {
                dropped++;
                return;
            }
            first = queue.isEmpty();
            queue.add(e);
        }
        if (first) {
            wake.accept(this);
        }
    }

    synchronized TapEvent poll() {
        return queue.poll();
    }

    synchronized long dropped() {
        return dropped;
    }

    synchronized void close() {
        closed = true;
        queue.clear();
    }
}
