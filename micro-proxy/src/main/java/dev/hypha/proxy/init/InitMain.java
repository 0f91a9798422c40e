package dev.hypha.proxy.init;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code hypha-init}: writes the pod's iptables rules and exits. Settings: {@code HYPHA_INIT_PROXY_UID} (2102),
 * {@code HYPHA_INIT_INBOUND_PORT} (4143), {@code HYPHA_INIT_OUTBOUND_PORT} (4140), {@code HYPHA_INIT_PROXY_PORTS}
 * (4190,4191), {@code HYPHA_INIT_SKIP_INBOUND_PORTS}, {@code HYPHA_INIT_SKIP_OUTBOUND_PORTS},
 * {@code HYPHA_INIT_SKIP_OUTBOUND_SUBNETS} (comma-separated CIDRs), {@code HYPHA_INIT_DRY_RUN=true} prints only.
 */
public final class InitMain {
    private InitMain() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        IptablesRules rules;
        try {
            rules = fromEnv(env);
        } catch (IllegalArgumentException e) {
            System.err.println("hypha-init: " + e.getMessage());
            System.exit(2);
            return;
        }
        boolean dry = "true".equals(env.get("HYPHA_INIT_DRY_RUN"));
        for (List<String> c : rules.commands()) {
            List<String> cmd = new ArrayList<>();
            cmd.add("iptables");
            cmd.addAll(c);
            System.out.println(String.join(" ", cmd));
            if (!dry) {
                Process p = new ProcessBuilder(cmd).inheritIO().start();
                if (p.waitFor() != 0) {
                    System.err.println("hypha-init: failed: " + String.join(" ", cmd));
                    System.exit(1);
                }
            }
        }
    }

    static IptablesRules fromEnv(Map<String, String> env) {
        return new IptablesRules(port(env, "HYPHA_INIT_PROXY_UID", 2102, 0, Integer.MAX_VALUE),
                port(env, "HYPHA_INIT_INBOUND_PORT", 4143, 1, 65535),
                port(env, "HYPHA_INIT_OUTBOUND_PORT", 4140, 1, 65535),
                ports(env, "HYPHA_INIT_PROXY_PORTS", "4190,4191"),
                ports(env, "HYPHA_INIT_SKIP_INBOUND_PORTS", ""),
                ports(env, "HYPHA_INIT_SKIP_OUTBOUND_PORTS", ""),
                subnets(env, "HYPHA_INIT_SKIP_OUTBOUND_SUBNETS"));
    }

    private static int port(Map<String, String> env, String key, int def, int min, int max) {
        String v = env.get(key);
        if (v == null || v.isBlank()) {
            return def;
        }
        try {
            int i = Integer.parseInt(v.trim());
            if (i >= min && i <= max) {
                return i;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(key + "='" + v + "' is not valid: expected an integer from " + min + " to " + max);
    }

    /** Ports and ranges ({@code 25,8000-8010}); at most 1000 ports in all, each one becomes an iptables rule. */
    private static Set<Integer> ports(Map<String, String> env, String key, String def) {
        String v = env.getOrDefault(key, def);
        Set<Integer> out = new TreeSet<>();
        for (String p : v.split(",")) {
            if (p.isBlank()) {
                continue;
            }
            try {
                String[] ab = p.trim().split("-", 2);
                int a = Integer.parseInt(ab[0].trim());
                int b = ab.length > 1 ? Integer.parseInt(ab[1].trim()) : a;
                if (a < 1 || b > 65535 || a > b) {
                    throw new NumberFormatException();
                }
                for (int i = a; i <= b; i++) {
                    out.add(i);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(key + "='" + v + "' is not valid: '" + p.trim()
                        + "' is not a port (1-65535) or a range such as 8000-8010");
            }
            if (out.size() > 1000) {
                throw new IllegalArgumentException(key + "='" + v + "' names more than 1000 ports: list fewer");
            }
        }
        return out;
    }

    private static List<String> subnets(Map<String, String> env, String key) {
        String v = env.getOrDefault(key, "");
        List<String> out = new ArrayList<>();
        for (String s : v.split(",")) {
            String t = s.trim();
            if (t.isEmpty()) {
                continue;
            }
            if (!t.matches("[0-9a-fA-F:.]+/[0-9]{1,3}")) {
                throw new IllegalArgumentException(key + "='" + v + "' is not valid: '" + t
                        + "' is not a CIDR such as 10.0.0.0/8");
            }
            out.add(t);
        }
        return out;
    }
}
