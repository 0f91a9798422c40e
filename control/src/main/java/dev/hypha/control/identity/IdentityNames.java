package dev.hypha.control.identity;

import java.util.regex.Pattern;

/** Identity names: {@code <sa>.<ns>.serviceaccount.identity.<trust-domain>} and their SPIFFE IDs. */
public final class IdentityNames {
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private IdentityNames() {
    }

    /** The SPIFFE ID of a well-formed identity in {@code trustDomain}, or null when the name is not one. */
    public static String spiffeId(String identity, String trustDomain) {
        if (identity == null || identity.length() > 253) {
            return null;
        }
        String suffix = ".serviceaccount.identity." + trustDomain;
        if (!identity.endsWith(suffix)) {
            return null;
        }
        String[] p = identity.substring(0, identity.length() - suffix.length()).split("\\.", -1);
        if (p.length != 2 || !LABEL.matcher(p[0]).matches() || !LABEL.matcher(p[1]).matches()) {
            return null;
        }
        return "spiffe://" + trustDomain + "/ns/" + p[1] + "/sa/" + p[0];
    }
}
