package dev.hypha.proxy.config;

import java.util.regex.Pattern;

/** Mesh identity names: DNS-style {@code <sa>.<ns>.serviceaccount.identity.<trust-domain>}, or any DNS name. */
public final class IdentityNames {
    private static final Pattern DNS = Pattern.compile(
            "(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private IdentityNames() {
    }

    public static boolean isValid(String name) {
        return name != null && DNS.matcher(name).matches();
    }

    /** The DNS-style identity of a ServiceAccount. */
    public static String forServiceAccount(String sa, String ns, String trustDomain) {
        return sa + "." + ns + ".serviceaccount.identity." + trustDomain;
    }

    /** The SPIFFE ID that goes with a DNS-style identity, or null when the name is not of that shape. */
    public static String spiffeId(String dnsIdentity) {
        String[] p = dnsIdentity.split("\\.", 5);
        if (p.length < 5 || !p[2].equals("serviceaccount") || !p[3].equals("identity")) {
            return null;
        }
        return "spiffe://" + p[4] + "/ns/" + p[1] + "/sa/" + p[0];
    }
}
