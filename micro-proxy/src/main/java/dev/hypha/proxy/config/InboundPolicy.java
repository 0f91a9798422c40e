package dev.hypha.proxy.config;

/** Who may connect to the inbound listener (Linkerd's default-inbound-policy values, the first three of them). */
public enum InboundPolicy {
    /** mesh and plain clients alike (the default: a meshed pod keeps serving clients outside the mesh). */
    ALL_UNAUTHENTICATED("all-unauthenticated"),
    /** only clients that proved a mesh identity over mTLS; plain HTTP gets 403, other plain traffic is refused. */
    ALL_AUTHENTICATED("all-authenticated"),
    /** nobody. */
    DENY("deny");

    private final String text;

    InboundPolicy(String text) {
        this.text = text;
    }

    public String text() {
        return text;
    }

    public static InboundPolicy parse(String s) {
        for (InboundPolicy p : values()) {
            if (p.text.equals(s)) {
                return p;
            }
        }
        return null;
    }
}
