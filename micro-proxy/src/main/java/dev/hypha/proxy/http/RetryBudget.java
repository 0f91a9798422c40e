package dev.hypha.proxy.http;

/**
 * Limits retries to {@code ratio} of original requests over a sliding window of {@code ttlSeconds}, plus
 * {@code minPerSecond} retries per second always allowed (Linkerd's retryBudget semantics). Per-second buckets in
 * a ring; synchronized because requests of one destination may run on several event loops.
 */
public final class RetryBudget {
    private final double ratio;
    private final int minPerSecond;
    private final int ttlSeconds;
    private final long[] requests;
    private final long[] retries;
    private final long[] bucketSecond;

    public RetryBudget(double ratio, int minPerSecond, long ttlMillis) {
        this.ratio = Math.max(0, ratio);
        this.minPerSecond = Math.max(0, minPerSecond);
        this.ttlSeconds = (int) Math.max(1, Math.min(600, ttlMillis / 1000));
        this.requests = new long[ttlSeconds];
        this.retries = new long[ttlSeconds];
        this.bucketSecond = new long[ttlSeconds];
    }

    private int bucket(long second) {
        int i = (int) (second % ttlSeconds);
        if (bucketSecond[i] != second) {
            bucketSecond[i] = second;
            requests[i] = 0;
            retries[i] = 0;
        }
        return i;
    }

    /** Counts an original request. */
    public synchronized void deposit() {
        long s = System.nanoTime() / 1_000_000_000L;
        requests[bucket(s)]++;
    }

    /** Takes one retry from the budget; false when the budget is spent. */
    public synchronized boolean tryWithdraw() {
        long s = System.nanoTime() / 1_000_000_000L;
        int cur = bucket(s);
        long req = 0;
        long ret = 0;
        for (int i = 0; i < ttlSeconds; i++) {
            if (s - bucketSecond[i] < ttlSeconds) {
                req += requests[i];
                ret += retries[i];
            }
        }
        if (ret + 1 > (long) minPerSecond * ttlSeconds + ratio * req) {
            return false;
        }
        retries[cur]++;
        return true;
    }
}
