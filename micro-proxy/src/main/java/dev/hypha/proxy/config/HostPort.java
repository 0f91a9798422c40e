package dev.hypha.proxy.config;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * A host (name or IP literal) and a TCP port, as written in configuration or an HTTP authority. A value class (not a
 * record) so that its text, asked for on the request path (table lookups, metrics, edges), is made once.
 */
public final class HostPort {
    private final String host;
    private final int port;
    private String text;

    public HostPort(String host, int port) {
        this.host = Objects.requireNonNull(host, "host");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        this.port = port;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HostPort h && h.port == port && h.host.equals(host);
    }

    @Override
    public int hashCode() {
        return host.hashCode() * 31 + port;
    }

    /** Parses {@code host:port} or {@code [v6]:port}; returns null when the text is not of that form. */
    public static HostPort parse(String text) {
        if (text == null) {
            return null;
        }
        String s = text.trim();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            return null;
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            return null;
        }
        if (host.isEmpty()) {
            return null;
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            return null;
        }
        if (port < 1 || port > 65535) {
            return null;
        }
        return new HostPort(host, port);
    }

    /** Parses an HTTP authority ({@code host[:port]}), using {@code defaultPort} when it names no port. */
    public static HostPort fromAuthority(String authority, int defaultPort) {
        if (authority == null || authority.isEmpty()) {
            return null;
        }
        String a = authority;
        int at = a.lastIndexOf('@');
        if (at >= 0) {
            a = a.substring(at + 1);
        }
        HostPort hp = parse(a);
        if (hp != null) {
            return hp;
        }
        if (a.startsWith("[") && a.endsWith("]")) {
            a = a.substring(1, a.length() - 1);
        } else if (a.indexOf(':') >= 0 || a.indexOf('/') >= 0 || a.indexOf(' ') >= 0) {
            return null;
        }
        return a.isEmpty() ? null : new HostPort(a, defaultPort);
    }

    public static HostPort of(InetSocketAddress a) {
        return new HostPort(a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString(), a.getPort());
    }

    public InetSocketAddress toUnresolved() {
        return InetSocketAddress.createUnresolved(host, port);
    }

    public InetSocketAddress toResolved() {
        return new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        String t = text;
        if (t == null) {
            t = host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
            text = t;
        }
        return t;
    }
}
