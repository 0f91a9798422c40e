package dev.hypha.proxy.admin;

import java.util.logging.LogManager;

/**
 * The JDK's LogManager resets (closes) all handlers in its own shutdown hook, which races with the proxy's drain
 * on SIGTERM and swallows the shutdown log lines. This one keeps handlers until the JVM is gone.
 */
public final class KeepAliveLogManager extends LogManager {
    @Override
    public void reset() {
        // intentionally kept: handlers stay open for the drain that runs in another shutdown hook
    }
}
