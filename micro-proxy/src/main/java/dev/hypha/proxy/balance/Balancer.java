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
            ThreadLocalRandom r = ThreadLocalRandom.current();
            Endpoint a = null;
            Endpoint b = null;
            for (int tries = 0; tries < 4 && (a == null || b == null); tries++) {
                Endpoint x = endpoints.get(r.nextInt(n));
                if (x == avoid || !x.available(now)) {
                    continue;
                }
                if (a == null) {
                    a = x;
                } else if (x != a) {
                    b = x;
                }
            }
            if (a == null) {
                // random picks found nothing usable: scan
                for (Endpoint x : endpoints) {
                    if (x != avoid && x.available(now)) {
                        a = x;
                        break;
                    }
                }
            }
            chosen = b == null ? a : (a.cost(now, DECAY_NANOS) <= b.cost(now, DECAY_NANOS) ? a : b);
        }
        if (chosen != null) {
            chosen.startRequest(now);
        }
        return chosen;
    }
}
