package dev.hypha.inject;

import java.util.Locale;

/** Why a pod was or was not injected: a stable code for Events, metrics and scripts. */
public enum Reason {
    INJECTED,
    /** {@code hypha inject} without {@code --manual}: the opt-in label was added, the webhook injects in-cluster. */
    OPT_IN_LABEL_ADDED,
    HOST_NETWORK,
    ALREADY_INJECTED,
    INJECTION_DISABLED,
    NOT_ENABLED,
    SYSTEM_NAMESPACE,
    NO_SERVICE_ACCOUNT_TOKEN,
    NO_TOKEN_PROJECTION,
    PORT_CONFLICT,
    INVALID_CONFIG,
    UNSUPPORTED_KIND,
    /** The webhook could not read the request (malformed, too large, not a Pod). */
    BAD_REQUEST;

    /** The code as written in Events, metrics and reports, e.g. {@code host_network}. */
    public String code() {
        return name().toLowerCase(Locale.ROOT);
    }
}
