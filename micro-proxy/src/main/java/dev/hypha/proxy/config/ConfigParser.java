package dev.hypha.proxy.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds a {@link ProxyConfig} from a map of environment variables. Unknown {@code HYPHA_PROXY_*} keys and bad
 * values are errors that name the key, the value and what would be accepted. All problems are reported at once.
 */
public final class ConfigParser {
    public static final String PREFIX = "HYPHA_PROXY_";

    public static final String MODE = PREFIX + "MODE";
    public static final String OUTBOUND_LISTEN_ADDR = PREFIX + "OUTBOUND_LISTEN_ADDR";
    public static final String INBOUND_LISTEN_ADDR = PREFIX + "INBOUND_LISTEN_ADDR";
    public static final String ADMIN_LISTEN_ADDR = PREFIX + "ADMIN_LISTEN_ADDR";
    public static final String TAP_LISTEN_ADDR = PREFIX + "TAP_LISTEN_ADDR";
    public static final String OUTBOUND_TARGET = PREFIX + "OUTBOUND_TARGET";
    public static final String INBOUND_TARGET = PREFIX + "INBOUND_TARGET";
    public static final String INBOUND_APP_HOST = PREFIX + "INBOUND_APP_HOST";
    public static final String OPAQUE_PORTS = PREFIX + "OPAQUE_PORTS";
    public static final String DETECT_TIMEOUT = PREFIX + "DETECT_TIMEOUT";
    public static final String CONNECT_TIMEOUT = PREFIX + "CONNECT_TIMEOUT";
    public static final String SHUTDOWN_GRACE = PREFIX + "SHUTDOWN_GRACE";
    public static final String HTTP1_IDLE_TIMEOUT = PREFIX + "HTTP1_IDLE_TIMEOUT";
    public static final String MAX_HEADER_BYTES = PREFIX + "MAX_HEADER_BYTES";
    public static final String MAX_INITIAL_LINE_BYTES = PREFIX + "MAX_INITIAL_LINE_BYTES";
    public static final String IDENTITY_CERT_FILE = PREFIX + "IDENTITY_CERT_FILE";
    public static final String IDENTITY_KEY_FILE = PREFIX + "IDENTITY_KEY_FILE";
    public static final String TRUST_ANCHORS_FILE = PREFIX + "TRUST_ANCHORS_FILE";
    public static final String TRUST_ANCHORS = PREFIX + "TRUST_ANCHORS";
    public static final String IDENTITY_NAME = PREFIX + "IDENTITY_NAME";
    public static final String IDENTITY_ADDR = PREFIX + "IDENTITY_ADDR";
    public static final String IDENTITY_TOKEN_FILE = PREFIX + "IDENTITY_TOKEN_FILE";
    public static final String DESTINATION_ADDR = PREFIX + "DESTINATION_ADDR";
    public static final String CONTROL_IDENTITY = PREFIX + "CONTROL_IDENTITY";
    public static final String CONTROL_PLAINTEXT = PREFIX + "CONTROL_PLAINTEXT";
    public static final String DISCOVERY_IDLE_TIMEOUT = PREFIX + "DISCOVERY_IDLE_TIMEOUT";
    public static final String FAIL_FAST_TIMEOUT = PREFIX + "FAIL_FAST_TIMEOUT";
    public static final String INBOUND_POLICY = PREFIX + "INBOUND_POLICY";
    public static final String DESTINATIONS = PREFIX + "DESTINATIONS";
    public static final String LOG_LEVEL = PREFIX + "LOG_LEVEL";
    public static final String EVENT_LOOP_THREADS = PREFIX + "EVENT_LOOP_THREADS";
    public static final String TRANSPORT = PREFIX + "TRANSPORT";
    public static final String TLS_PROVIDER = PREFIX + "TLS_PROVIDER";

    /** Every key, in documentation order. */
    public static final List<String> KEYS = List.of(MODE, OUTBOUND_LISTEN_ADDR, INBOUND_LISTEN_ADDR, ADMIN_LISTEN_ADDR,
            TAP_LISTEN_ADDR, OUTBOUND_TARGET, INBOUND_TARGET, INBOUND_APP_HOST, OPAQUE_PORTS, DETECT_TIMEOUT, CONNECT_TIMEOUT,
            SHUTDOWN_GRACE, HTTP1_IDLE_TIMEOUT, MAX_HEADER_BYTES, MAX_INITIAL_LINE_BYTES, IDENTITY_CERT_FILE,
            IDENTITY_KEY_FILE, TRUST_ANCHORS_FILE, TRUST_ANCHORS, IDENTITY_NAME, IDENTITY_ADDR, IDENTITY_TOKEN_FILE, DESTINATION_ADDR, CONTROL_IDENTITY, CONTROL_PLAINTEXT, DISCOVERY_IDLE_TIMEOUT, FAIL_FAST_TIMEOUT, INBOUND_POLICY, DESTINATIONS, LOG_LEVEL,
            EVENT_LOOP_THREADS, TRANSPORT, TLS_PROVIDER);

    public static final String DEFAULT_OPAQUE_PORTS = "25,587,3306,4444,5432,6379,9300,11211";
    private static final Set<String> LOG_LEVELS = Set.of("off", "error", "warn", "info", "debug", "trace");

    private final Map<String, String> env;
    private final List<String> errors = new ArrayList<>();

    private ConfigParser(Map<String, String> env) {
        this.env = env;
    }

    /** Parses the configuration, or throws one {@link ConfigException} that lists every problem found. */
    public static ProxyConfig parse(Map<String, String> env) {
        return new ConfigParser(env).parse();
    }

    private ProxyConfig parse() {
        for (String k : env.keySet()) {
            if (k.startsWith(PREFIX) && !KEYS.contains(k)) {
                errors.add(k + " is not a known setting (known: " + String.join(", ", KEYS) + ")");
            }
        }
        ProxyConfig.Mode mode = enumValue(MODE, "transparent", ProxyConfig.Mode.class);
        HostPort outbound = hostPort(OUTBOUND_LISTEN_ADDR, "127.0.0.1:4140", true);
        HostPort inbound = hostPort(INBOUND_LISTEN_ADDR, "0.0.0.0:4143", true);
        HostPort admin = hostPort(ADMIN_LISTEN_ADDR, "0.0.0.0:4191", true);
        HostPort tap = hostPort(TAP_LISTEN_ADDR, "0.0.0.0:4190", true);
        HostPort outboundTarget = hostPort(OUTBOUND_TARGET, null, false);
        HostPort inboundTarget = hostPort(INBOUND_TARGET, null, false);
        String appHost = string(INBOUND_APP_HOST, "127.0.0.1");
        Set<Integer> opaque = ports(OPAQUE_PORTS, DEFAULT_OPAQUE_PORTS);
        Duration detect = duration(DETECT_TIMEOUT, "1s", Duration.ofMillis(10), Duration.ofSeconds(60));
        Duration connect = duration(CONNECT_TIMEOUT, "1s", Duration.ofMillis(10), Duration.ofSeconds(60));
        Duration grace = duration(SHUTDOWN_GRACE, "120s", Duration.ZERO, Duration.ofHours(1));
        Duration idle = duration(HTTP1_IDLE_TIMEOUT, "3s", Duration.ofMillis(100), Duration.ofMinutes(10));
        int maxHeader = integer(MAX_HEADER_BYTES, 16384, 1024, 1 << 20);
        int maxLine = integer(MAX_INITIAL_LINE_BYTES, 8192, 256, 1 << 20);
        Path cert = file(IDENTITY_CERT_FILE);
        Path key = file(IDENTITY_KEY_FILE);
        Path anchorsFile = file(TRUST_ANCHORS_FILE);
        String anchorsPem = string(TRUST_ANCHORS, null);
        if (anchorsPem != null && !anchorsPem.contains("-----BEGIN CERTIFICATE-----")) {
            errors.add(TRUST_ANCHORS + " is not valid: expected one or more PEM certificates "
                    + "('-----BEGIN CERTIFICATE-----' ...)");
            anchorsPem = null;
        }
        if (anchorsFile != null && anchorsPem != null) {
            errors.add(TRUST_ANCHORS_FILE + " and " + TRUST_ANCHORS + " exclude each other; set one");
        }
        Object anchors = anchorsFile != null ? anchorsFile : anchorsPem;
        HostPort identityAddr = hostPort(IDENTITY_ADDR, null, false);
        String tokenPath = string(IDENTITY_TOKEN_FILE, null);
        Path tokenFile = tokenPath == null ? null : Path.of(tokenPath); // read on every renewal; may appear later
        String identityName = string(IDENTITY_NAME, null);
        if (identityAddr != null) {
            if (cert != null || key != null) {
                errors.add(IDENTITY_ADDR + " (certificates from the control plane) and " + IDENTITY_CERT_FILE + "/"
                        + IDENTITY_KEY_FILE + " (certificates from files) exclude each other; set one way");
            }
            if (tokenFile == null || identityName == null || anchors == null) {
                errors.add(IDENTITY_ADDR + " needs " + IDENTITY_TOKEN_FILE + ", " + IDENTITY_NAME + " and "
                                + TRUST_ANCHORS_FILE + " (or " + TRUST_ANCHORS + ") too");
            }
        } else if ((cert == null) != (key == null) || (cert == null) != (anchors == null)) {
            if (cert != null || key != null || anchors != null) {
                errors.add(IDENTITY_CERT_FILE + ", " + IDENTITY_KEY_FILE + " and " + TRUST_ANCHORS_FILE
                        + " must be set together (or none of them, which turns mTLS off)");
            }
        }
        if (identityName != null && !IdentityNames.isValid(identityName)) {
            errors.add(IDENTITY_NAME + "='" + identityName + "' is not valid: expected a DNS-style identity such as "
                    + "'web.default.serviceaccount.identity.cluster.local'");
        }
        HostPort destinationAddr = hostPort(DESTINATION_ADDR, null, false);
        String trustDomain = identityName != null && identityName.contains(".serviceaccount.identity.")
                ? identityName.substring(identityName.indexOf(".serviceaccount.identity.") + 25) : "cluster.local";
        String controlIdentity = string(CONTROL_IDENTITY,
                "hypha-control.hypha-system.serviceaccount.identity." + trustDomain);
        if (!IdentityNames.isValid(controlIdentity)) {
            errors.add(CONTROL_IDENTITY + "='" + controlIdentity + "' is not valid: expected a DNS-style identity");
        }
        String plain = string(CONTROL_PLAINTEXT, "false");
        if (!plain.equals("true") && !plain.equals("false")) {
            errors.add(CONTROL_PLAINTEXT + "='" + plain + "' is not valid: expected true or false");
        }
        if (destinationAddr != null && anchors == null && !plain.equals("true")) {
            errors.add(DESTINATION_ADDR + " needs " + TRUST_ANCHORS_FILE + " to verify the control plane (or "
                    + CONTROL_PLAINTEXT + "=true)");
        }
        Duration discoveryIdle = duration(DISCOVERY_IDLE_TIMEOUT, "60s", Duration.ofMillis(100), Duration.ofHours(1));
        Duration failFast = duration(FAIL_FAST_TIMEOUT, "3s", Duration.ofMillis(10), Duration.ofMinutes(1));
        InboundPolicy policy = InboundPolicy.parse(string(INBOUND_POLICY, "all-unauthenticated"));
        if (policy == null) {
            errors.add(INBOUND_POLICY + "='" + env.get(INBOUND_POLICY)
                    + "' is not valid: expected all-unauthenticated, all-authenticated or deny");
        }
        Map<String, MeshDestination> dests = destinations(DESTINATIONS);
        String logLevel = string(LOG_LEVEL, "info").toLowerCase(Locale.ROOT);
        if (!LOG_LEVELS.contains(logLevel)) {
            errors.add(LOG_LEVEL + "='" + env.get(LOG_LEVEL) + "' is not valid: expected one of " + new TreeSet<>(LOG_LEVELS));
        }
        int threads = integer(EVENT_LOOP_THREADS, 1, 1, 64);
        ProxyConfig.Transport transport = enumValue(TRANSPORT, "auto", ProxyConfig.Transport.class);
        ProxyConfig.TlsProvider tls = enumValue(TLS_PROVIDER, "auto", ProxyConfig.TlsProvider.class);

        if (!errors.isEmpty()) {
            throw new ConfigException("invalid proxy configuration:\n  - " + String.join("\n  - ", errors));
        }
        return new ProxyConfig(mode, outbound, inbound, admin, tap, outboundTarget, inboundTarget, appHost,
                Collections.unmodifiableSet(opaque), detect, connect, grace, idle, maxHeader, maxLine, cert, key,
                anchorsFile, anchorsPem, identityName, identityAddr, tokenFile, destinationAddr, controlIdentity, plain.equals("true"), discoveryIdle, failFast, policy, Collections.unmodifiableMap(dests), logLevel, threads, transport, tls);
    }

    private String string(String key, String def) {
        String v = env.get(key);
        return v == null || v.isBlank() ? def : v.trim();
    }

    private <E extends Enum<E>> E enumValue(String key, String def, Class<E> type) {
        String v = string(key, def);
        StringBuilder allowed = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            String name = e.name().toLowerCase(Locale.ROOT);
            if (name.equals(v.toLowerCase(Locale.ROOT))) {
                return e;
            }
            allowed.append(allowed.length() == 0 ? "" : ", ").append(name);
        }
        errors.add(key + "='" + v + "' is not valid: expected one of " + allowed);
        return type.getEnumConstants()[0];
    }

    private HostPort hostPort(String key, String def, boolean allowPortZero) {
        String v = string(key, def);
        if (v == null) {
            return null;
        }
        HostPort hp = HostPort.parse(v);
        if (hp == null && allowPortZero && v.endsWith(":0")) {
            HostPort p = HostPort.parse(v.substring(0, v.length() - 1) + "1");
            hp = p == null ? null : new HostPort(p.host(), 0);
        }
        if (hp == null) {
            errors.add(key + "='" + v + "' is not valid: expected host:port, e.g. 127.0.0.1:4140 or [::1]:4140"
                    + (allowPortZero ? " (port 0 picks a free port)" : ""));
        }
        return hp;
    }

    private Set<Integer> ports(String key, String def) {
        String v = string(key, def);
        Set<Integer> out = new TreeSet<>();
        if (v.equals("none")) {
            return out;
        }
        for (String part : v.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            try {
                int dash = p.indexOf('-');
                int lo = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
                int hi = dash < 0 ? lo : Integer.parseInt(p.substring(dash + 1));
                if (lo < 1 || hi > 65535 || lo > hi || hi - lo > 4096) {
                    throw new NumberFormatException();
                }
                for (int i = lo; i <= hi; i++) {
                    out.add(i);
                }
            } catch (NumberFormatException e) {
                errors.add(key + "='" + v + "' is not valid: '" + p
                        + "' is not a port (1-65535) or range such as 9000-9010 (at most 4096 ports); use 'none' for no ports");
            }
        }
        return out;
    }

    private Duration duration(String key, String def, Duration min, Duration max) {
        String v = string(key, def);
        Duration d = Durations.parse(v);
        if (d == null || d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            errors.add(key + "='" + v + "' is not valid: expected a duration between " + Durations.format(min)
                    + " and " + Durations.format(max) + " such as 500ms, 1s or 2m");
            return Durations.parse(def);
        }
        return d;
    }

    private int integer(String key, int def, int min, int max) {
        String v = string(key, null);
        if (v == null) {
            return def;
        }
        try {
            int i = Integer.parseInt(v);
            if (i >= min && i <= max) {
                return i;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        errors.add(key + "='" + v + "' is not valid: expected an integer from " + min + " to " + max);
        return def;
    }

    private Path file(String key) {
        String v = string(key, null);
        if (v == null) {
            return null;
        }
        Path p = Path.of(v);
        if (!Files.isReadable(p)) {
            errors.add(key + "='" + v + "' is not valid: expected a readable PEM file");
        }
        return p;
    }

    /** {@code authority=endpoint[@identity]}, separated by commas; the key is an authority or an IP:port. */
    private Map<String, MeshDestination> destinations(String key) {
        String v = string(key, null);
        Map<String, MeshDestination> out = new LinkedHashMap<>();
        if (v == null) {
            return out;
        }
        for (String entry : v.split(",")) {
            String e = entry.trim();
            if (e.isEmpty()) {
                continue;
            }
            int eq = e.indexOf('=');
            String name = eq < 0 ? "" : e.substring(0, eq).trim();
            String rest = eq < 0 ? "" : e.substring(eq + 1).trim();
            int at = rest.indexOf('@');
            String endpoint = at < 0 ? rest : rest.substring(0, at);
            String identity = at < 0 ? null : rest.substring(at + 1);
            HostPort ep = HostPort.parse(endpoint);
            if (HostPort.parse(name) == null || ep == null || (identity != null && !IdentityNames.isValid(identity))) {
                errors.add(key + " entry '" + e + "' is not valid: expected authority=endpoint[@identity], e.g. "
                        + "'web.shop.svc.cluster.local:80=10.0.0.7:80@web.shop.serviceaccount.identity.cluster.local'");
                continue;
            }
            out.put(HostPort.parse(name).toString(), new MeshDestination(ep, identity));
        }
        return out;
    }
}
