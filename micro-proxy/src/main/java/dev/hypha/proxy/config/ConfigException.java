package dev.hypha.proxy.config;

/** A configuration value that cannot be used. The message names the key, the value and what is allowed. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String key, String value, String allowed) {
        super(key + "=" + quote(value) + " is not valid: " + allowed);
    }

    public ConfigException(String message) {
        super(message);
    }

    private static String quote(String v) {
        return v == null ? "<unset>" : "'" + v + "'";
    }
}
