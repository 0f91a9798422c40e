package dev.hypha.proxy.tap;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.TapFilter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The taps open on this proxy. The request path asks {@link #any()} — one volatile read of an array's length —
 * and does nothing more while nobody taps: no allocation, no lock ({@code TapsTest} measures it). When taps are
 * open, a request is matched against each filter once its destination is known, and a matching tap within its rate
 * gets the request's three events.
 */
public final class Taps {
    private static final Tap[] NONE = new Tap[0];
    private volatile Tap[] open = NONE;
    private final AtomicLong ids = new AtomicLong();
    private volatile java.util.function.Supplier<String> localIdentity = () -> null;

    /** Where inbound events get the server's (this proxy's) identity from. */
    public void localIdentity(java.util.function.Supplier<String> id) {
        this.localIdentity = id;
    }

    /** Whether any tap is open: the only thing an untapped request asks. */
    public boolean any() {
        return open.length != 0;
    }

    public int openCount() {
        return open.length;
    }

    synchronized void add(Tap t) {
        Tap[] next = Arrays.copyOf(open, open.length + 1);
        next[open.length] = t;
        open = next;
    }

    synchronized void remove(Tap t) {
        List<Tap> next = new ArrayList<>(Arrays.asList(open));
        next.remove(t);
        open = next.isEmpty() ? NONE : next.toArray(Tap[]::new);
    }

    /** What a filter looks at; built only when a tap is open. */
    public record Request(Direction direction, String source, String destination, boolean tls, String clientId,
            String serverId, String route, Map<String, String> destinationLabels, String method, String scheme,
            String authority, String path) {
    }

    /**
     * Matches a request against the open taps; returns its tap session (which every later event goes to), or null
     * when no tap wants it (no filter matched, or every matching tap is over its rate).
     */
    public Tapped begin(Request r, long startNanos) {
        Tap[] taps = open;
        List<Tap> to = null;
        for (Tap t : taps) {
            if (matches(t.filter(), r) && t.admit()) {
                if (to == null) {
                    to = new ArrayList<>(taps.length);
                }
                to.add(t);
            }
        }
        if (to == null) {
            return null;
        }
        long id = ids.incrementAndGet();
        String serverId = r.serverId();
        if (r.direction() == Direction.INBOUND && r.tls()) {
            String own = localIdentity.get();
            serverId = own == null ? "" : own;
        }
        TapEvent.Builder base = TapEvent.newBuilder().setDirection(r.direction()).setSource(r.source())
                .setDestination(r.destination()).setTls(r.tls()).setClientIdentity(r.clientId())
                .setServerIdentity(serverId).setRoute(r.route()).putAllDestinationLabels(r.destinationLabels());
        Tapped s = new Tapped(to.toArray(Tap[]::new), id, startNanos, base.build());
        s.emit(base.setRequestInit(TapEvent.RequestInit.newBuilder().setId(id).setMethod(r.method())
                .setScheme(r.scheme()).setAuthority(r.authority()).setPath(r.path())).build());
        return s;
    }

    static boolean matches(TapFilter f, Request r) {
        if (f.getDirection() != Direction.DIRECTION_UNSPECIFIED && f.getDirection() != r.direction()) {
            return false;
        }
        if (!f.getMethod().isEmpty() && !f.getMethod().equalsIgnoreCase(r.method())) {
            return false;
        }
        if (!f.getPathPrefix().isEmpty() && !r.path().startsWith(f.getPathPrefix())) {
            return false;
        }
        if (!f.getRoute().isEmpty() && !f.getRoute().equals(r.route())) {
            return false;
        }
        if (!f.getClientIdentity().isEmpty() && !f.getClientIdentity().equals(r.clientId())) {
            return false;
        }
        if (f.getAuthoritiesCount() > 0 && !authorityMatches(f.getAuthoritiesList(), r.authority())) {
            return false;
        }
        if (f.getSourceAddressesCount() > 0 && !addressMatches(f.getSourceAddressesList(), r.source())) {
            return false;
        }
        return f.getDestinationAddressesCount() == 0 || addressMatches(f.getDestinationAddressesList(),
                r.destination());
    }

    /** An entry "ip:port" matches that address; a bare "ip" matches any port of it. */
    private static boolean addressMatches(List<String> wanted, String destination) {
        int colon = destination.lastIndexOf(':');
        String host = colon > 0 ? destination.substring(0, colon) : destination;
        for (String w : wanted) {
            if (w.equals(destination) || w.equals(host)) {
                return true;
            }
        }
        return false;
    }

    private static boolean authorityMatches(List<String> wanted, String authority) {
        int colon = authority.lastIndexOf(':');
        String host = colon > 0 && authority.indexOf(']', colon) < 0 ? authority.substring(0, colon) : authority;
        for (String w : wanted) {
            if (w.equalsIgnoreCase(authority) || w.equalsIgnoreCase(host)) {
                return true;
            }
        }
        return false;
    }
}
