package dev.hypha.proxy.metrics;

import java.util.concurrent.atomic.LongAdder;

/**
 * The metric series one downstream connection's requests recorded last, per metric. A connection's requests mostly
 * carry the same labels (one authority, one client, one route), so the next request takes its series from here
 * without building a label key and looking it up in the family's map; other labels look up as before. Not
 * thread-safe: one per connection, used on the connection's event loop.
 */
public final class SeriesCache {
    public final Family.Last<LongAdder> httpRequests = new Family.Last<>();
    public final Family.Last<LongAdder> httpResponses = new Family.Last<>();
    public final Family.Last<Family.Histogram.Series> httpLatency = new Family.Last<>();
    public final Family.Last<LongAdder> routeRequests = new Family.Last<>();
    public final Family.Last<LongAdder> routeResponses = new Family.Last<>();
    public final Family.Last<LongAdder> routeActualResponses = new Family.Last<>();
    public final Family.Last<Family.Histogram.Series> routeLatency = new Family.Last<>();
    public final RollingStats.Last stats = new RollingStats.Last();
    public final RollingStats.LastEdge edge = new RollingStats.LastEdge();
}
