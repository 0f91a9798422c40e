package dev.hypha.proxy.balance;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Power of two choices over peak-EWMA cost: pick two endpoints at random, use the cheaper one. Penalised
 * endpoints are skipped; when every endpoint is penalised there is no choice (fail fast).
 */
public final class Balancer {
    /** Peak-EWMA decay (Linkerd's default: 10 s). */
    static final long DECAY_NANOS = 10_000_000_000L;

    private Balancer() {
    }

    /** The cheaper of two; costs within 1 % of each other are a tie, broken at random (no order bias). */
    private static Endpoint cheaper(Endpoint a, Endpoint b, long now, ThreadLocalRandom r) {
        double ca = a.cost(now, DECAY_NANOS);
        double cb = b.cost(now, DECAY_NANOS);
        if (Math.abs(ca - cb) <= 0.01 * Math.max(ca, cb)) {
            return r.nextBoolean() ? a : b;
        }
        return ca < cb ? a : b;
    }

    private static Endpoint usable(Endpoint e, Endpoint avoid, long now) {
        return e != avoid && e.available(now) ? e : null;
    }

    /** The endpoint for the next request (its request is counted as started), or null when none is available. */
    public static Endpoint pick(List<Endpoint> endpoints, Endpoint avoid) {
        int n = endpoints.size();
        if (n == 0) {
            return null;
        }
        long now = System.nanoTime();
        Endpoint chosen;
        if (n == 1) {
            Endpoint e = endpoints.get(0);
            chosen = e.available(now) && e != avoid ? e : null;
        } else {
            // two distinct random endpoints; the cheaper usable one wins
            ThreadLocalRandom r = ThreadLocalRandom.current();
            int i = r.nextInt(n);
            int j = r.nextInt(n - 1);
            if (j >= i) {
                j++;
            }
            Endpoint a = usable(endpoints.get(i), avoid, now);
            Endpoint b = usable(endpoints.get(j), avoid, now);
            if (a == null && b == null) {
                for (Endpoint x : endpoints) { // both samples unusable: take any usable one
                    if (usable(x, avoid, now) != null) {
                        a = x;
                        break;
                    }
                }
            }
            chosen = a == null ? b : b == null ? a : cheaper(a, b, now, r);
        }
        if (chosen != null) {
            chosen.startRequest(now);
        }
        return chosen;
    }
}
