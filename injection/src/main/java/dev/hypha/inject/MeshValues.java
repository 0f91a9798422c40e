package dev.hypha.inject;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The mesh's configuration values: defaults ({@code hypha/defaults.properties}), then install values, then
 * namespace annotations, then pod annotations ({@code config.hypha.dev/<key>}, for keys that allow it). Every key
 * is declared in {@link #KEYS} with how it is checked; a bad value is reported with the key, the value and what
 * would be right.
 */
public final class MeshValues {
    public static final String ANNOTATION_PREFIX = "config.hypha.dev/";

    /** How a key's value is checked. */
    public enum Kind {
        TEXT, IMAGE, VERSION, PORTS, SUBNETS, QUANTITY_CPU, QUANTITY_MEMORY, LOG_LEVEL, POLICY, NATIVE_SIDECAR,
        INT, DOMAIN, PULL_POLICY, REPLICAS, FAILURE_POLICY
    }

    /** A key: its checker, whether annotations may set it, and what it is for (docs/install.md has the same). */
    public record Key(String name, Kind kind, boolean annotation, String doc) {
    }

    public static final List<Key> KEYS = List.of(
            new Key("version", Kind.VERSION, false, "the Hypha release the control plane and injector run"),
            new Key("proxy-image", Kind.IMAGE, true, "the proxy's image, without tag (the same image runs hypha-init)"),
            new Key("proxy-version", Kind.VERSION, true, "the proxy image's tag"),
            new Key("init-image", Kind.IMAGE, true, "the image of the hypha-init container (tag: proxy-version)"),
            new Key("image-pull-policy", Kind.PULL_POLICY, true, "Always, IfNotPresent or Never"),
            new Key("control-image", Kind.IMAGE, false, "the control plane's image (tag: version)"),
            new Key("injector-image", Kind.IMAGE, false, "the injector's image (tag: version)"),
            new Key("trust-domain", Kind.DOMAIN, false, "the trust domain of identities"),
            new Key("cluster-domain", Kind.DOMAIN, false, "the cluster's DNS domain"),
            new Key("proxy-uid", Kind.INT, false, "the UID the proxy runs as (iptables lets its traffic out)"),
            new Key("proxy-cpu-request", Kind.QUANTITY_CPU, true, "the proxy's CPU request"),
            new Key("proxy-memory-request", Kind.QUANTITY_MEMORY, true, "the proxy's memory request"),
            new Key("proxy-cpu-limit", Kind.QUANTITY_CPU, true, "the proxy's CPU limit (empty: none)"),
            new Key("proxy-memory-limit", Kind.QUANTITY_MEMORY, true, "the proxy's memory limit (empty: none)"),
            new Key("proxy-log-level", Kind.LOG_LEVEL, true, "off, error, warn, info, debug or trace"),
            new Key("proxy-jvm-options", Kind.TEXT, true, "JVM flags of the proxy (JAVA_TOOL_OPTIONS)"),
            new Key("opaque-ports", Kind.PORTS, true, "ports that skip protocol detection (list and ranges)"),
            new Key("skip-inbound-ports", Kind.PORTS, true, "inbound ports that bypass the proxy"),
            new Key("skip-outbound-ports", Kind.PORTS, true, "outbound ports that bypass the proxy"),
            new Key("skip-outbound-subnets", Kind.SUBNETS, true, "outbound IPv4 CIDRs that bypass the proxy"),
            new Key("inbound-policy", Kind.POLICY, true, "all-unauthenticated, all-authenticated or deny"),
            new Key("native-sidecar", Kind.NATIVE_SIDECAR, true,
                    "auto (native where the API server is 1.29+), enabled or disabled"),
            new Key("proxy-wait-before-exit-seconds", Kind.INT, true,
                    "classic sidecars: how long the proxy's preStop hook holds it after the app got SIGTERM"),
            new Key("proxy-await-timeout-seconds", Kind.INT, true,
                    "classic sidecars: how long the app is held until the proxy is ready"),
            new Key("webhook-failure-policy", Kind.FAILURE_POLICY, false,
                    "Ignore (an unavailable injector never blocks pods) or Fail"),
            new Key("control-replicas", Kind.REPLICAS, false, "control plane replicas (--ha: 3)"),
            new Key("injector-replicas", Kind.REPLICAS, false, "injector replicas (--ha: 3)"));

    private static final Map<String, Key> BY_NAME = new LinkedHashMap<>();

    static {
        for (Key k : KEYS) {
            BY_NAME.put(k.name(), k);
        }
    }

    private static final Pattern PORT_ITEM = Pattern.compile("\\d{1,5}(-\\d{1,5})?");
    private static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");
    private static final Pattern CPU = Pattern.compile("\\d+(\\.\\d+)?m?");
    private static final Pattern MEMORY = Pattern.compile("\\d+(\\.\\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?");
    private static final Pattern IMAGE = Pattern.compile("[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern DOMAIN = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*");

    private final Map<String, String> values;

    private MeshValues(Map<String, String> values) {
        this.values = values;
    }

    /** The defaults shipped with this release. */
    public static MeshValues defaults() {
        Properties p = new Properties();
        try (InputStream in = MeshValues.class.getResourceAsStream("/hypha/defaults.properties")) {
            if (in == null) {
                throw new IllegalStateException("hypha/defaults.properties is missing from the class path");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> m = new TreeMap<>();
        for (String k : p.stringPropertyNames()) {
            m.put(k, p.getProperty(k).trim());
        }
        return new MeshValues(m);
    }

    public String get(String key) {
        if (!BY_NAME.containsKey(key)) {
            throw new IllegalArgumentException("unknown mesh value '" + key + "'");
        }
        return values.getOrDefault(key, "");
    }

    public int getInt(String key) {
        return Integer.parseInt(get(key));
    }

    public Map<String, String> asMap() {
        return Collections.unmodifiableMap(values);
    }

    /**
     * Install values on top of these: every key must be known and valid, or the whole set is refused with every
     * problem listed.
     */
    public MeshValues withInstallValues(Map<String, String> overrides) throws InvalidValuesException {
        List<String> errors = new ArrayList<>();
        Map<String, String> m = new TreeMap<>(values);
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            Key k = BY_NAME.get(e.getKey());
            if (k == null) {
                errors.add("unknown key '" + e.getKey() + "': expected one of " + BY_NAME.keySet());
                continue;
            }
            String v = e.getValue() == null ? "" : e.getValue().trim();
            String problem = check(k, v);
            if (problem != null) {
                errors.add(problem);
            } else {
                m.put(k.name(), v);
            }
        }
        if (!errors.isEmpty()) {
            throw new InvalidValuesException(errors);
        }
        return new MeshValues(m);
    }

    /**
     * Annotations ({@code config.hypha.dev/<key>}) on top of these. Keys that annotations may not set, and unknown
     * keys, are errors too: a typo must not be silently ignored.
     */
    public MeshValues withAnnotations(Map<String, String> annotations, String where) throws InvalidValuesException {
        if (annotations == null || annotations.isEmpty()) {
            return this;
        }
        List<String> errors = new ArrayList<>();
        Map<String, String> m = new TreeMap<>(values);
        for (Map.Entry<String, String> e : annotations.entrySet()) {
            if (!e.getKey().startsWith(ANNOTATION_PREFIX)) {
                continue;
            }
            String name = e.getKey().substring(ANNOTATION_PREFIX.length());
            Key k = BY_NAME.get(name);
            if (k == null || !k.annotation()) {
                errors.add(where + " annotation " + e.getKey() + ": " + (k == null ? "unknown key" : "not settable per "
                        + "namespace or pod (an install value)") + "; annotations may set " + annotatable());
                continue;
            }
            String v = e.getValue() == null ? "" : e.getValue().trim();
            String problem = check(k, v);
            if (problem != null) {
                errors.add(where + " annotation " + e.getKey() + ": " + problem);
            } else {
                m.put(name, v);
            }
        }
        if (!errors.isEmpty()) {
            throw new InvalidValuesException(errors);
        }
        return new MeshValues(m);
    }

    private static List<String> annotatable() {
        List<String> out = new ArrayList<>();
        for (Key k : KEYS) {
            if (k.annotation()) {
                out.add(k.name());
            }
        }
        return out;
    }

    /** Null when the value is fine, else a sentence saying what is wrong and what would be right. */
    static String check(Key k, String v) {
        String bad = k.name() + "='" + v + "' is not valid: expected ";
        switch (k.kind()) {
            case TEXT:
                return v.indexOf('\n') >= 0 ? bad + "one line" : null;
            case IMAGE:
                return IMAGE.matcher(v).matches() ? null : bad + "an image name such as ghcr.io/hypha-mesh/proxy";
            case VERSION:
                return TAG.matcher(v).matches() ? null : bad + "an image tag such as 0.1.0";
            case DOMAIN:
                return DOMAIN.matcher(v).matches() ? null : bad + "a DNS domain such as cluster.local";
            case PULL_POLICY:
                return List.of("Always", "IfNotPresent", "Never").contains(v) ? null
                        : bad + "Always, IfNotPresent or Never";
            case QUANTITY_CPU:
                return v.isEmpty() || CPU.matcher(v).matches() ? null : bad + "a CPU quantity such as 100m or 0.5";
            case QUANTITY_MEMORY:
                return v.isEmpty() || MEMORY.matcher(v).matches() ? null
                        : bad + "a memory quantity such as 64Mi or 1Gi";
            case LOG_LEVEL:
                return List.of("off", "error", "warn", "info", "debug", "trace").contains(v) ? null
                        : bad + "off, error, warn, info, debug or trace";
            case POLICY:
                return List.of("all-unauthenticated", "all-authenticated", "deny").contains(v) ? null
                        : bad + "all-unauthenticated, all-authenticated or deny";
            case NATIVE_SIDECAR:
                return List.of("auto", "enabled", "disabled").contains(v) ? null : bad + "auto, enabled or disabled";
            case INT:
                return v.matches("\\d{1,6}") ? null : bad + "a whole number";
            case FAILURE_POLICY:
                return v.equals("Ignore") || v.equals("Fail") ? null : bad + "Ignore or Fail";
            case REPLICAS:
                return v.matches("[1-9]\\d?") ? null : bad + "a number of replicas from 1 to 99";
            case PORTS:
                return ports(v) == null ? bad + "ports and ranges such as 25,3306,8000-8100 (1 to 65535)" : null;
            case SUBNETS:
                return subnets(v) ? null : bad + "IPv4 CIDRs such as 10.0.0.0/8,192.168.0.0/16";
            default:
                throw new AssertionError(k.kind());
        }
    }

    /** The list, normalised (no spaces), or null when it is not a list of ports and ranges. */
    static String ports(String v) {
        if (v.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        for (String item : v.split(",")) {
            String t = item.trim();
            if (!PORT_ITEM.matcher(t).matches()) {
                return null;
            }
            String[] ab = t.split("-");
            int a = Integer.parseInt(ab[0]);
            int b = ab.length > 1 ? Integer.parseInt(ab[1]) : a;
            if (a < 1 || b > 65535 || a > b) {
                return null;
            }
            sb.append(sb.length() == 0 ? "" : ",").append(t);
        }
        return sb.toString();
    }

    static boolean subnets(String v) {
        if (v.isEmpty()) {
            return true;
        }
        for (String item : v.split(",")) {
            var m = CIDR.matcher(item.trim());
            if (!m.matches()) {
                return false;
            }
            for (int i = 1; i <= 4; i++) {
                if (Integer.parseInt(m.group(i)) > 255) {
                    return false;
                }
            }
            if (Integer.parseInt(m.group(5)) > 32) {
                return false;
            }
        }
        return true;
    }

    /** Every problem with a set of values, listed. */
    public static final class InvalidValuesException extends Exception {
        private final List<String> problems;

        public InvalidValuesException(List<String> problems) {
            super(String.join("; ", problems));
            this.problems = List.copyOf(problems);
        }

        public List<String> problems() {
            return problems;
        }
    }
}
