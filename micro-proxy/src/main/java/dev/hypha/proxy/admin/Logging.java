package dev.hypha.proxy.admin;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.Locale;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * java.util.logging set up for a sidecar: one line per record on stderr, levels with fixed meanings
 * (error = a bug or broken invariant, warn = an operator must act, info = lifecycle, debug = per connection).
 */
public final class Logging {
    private static final Logger ROOT = Logger.getLogger("");

    private Logging() {
    }

    public static void configure(String level) {
        for (Handler h : ROOT.getHandlers()) {
            ROOT.removeHandler(h);
        }
        ConsoleHandler h = new ConsoleHandler();
        h.setLevel(Level.ALL);
        h.setFormatter(new OneLine());
        ROOT.addHandler(h);
        setLevel(level);
    }

    public static boolean setLevel(String name) {
        Level l = switch (name.toLowerCase(Locale.ROOT)) {
            case "off" -> Level.OFF;
            case "error" -> Level.SEVERE;
            case "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> null;
        };
        if (l == null) {
            return false;
        }
        ROOT.setLevel(l);
        // Netty logs its own internals at debug; keep them out unless asked for with trace.
        Logger.getLogger("io.netty").setLevel(l.intValue() <= Level.FINEST.intValue() ? l : Level.INFO);
        return true;
    }

    public static String level() {
        Level l = ROOT.getLevel();
        if (l == null) {
            return "info";
        }
        if (l == Level.OFF) {
            return "off";
        }
        if (l.intValue() >= Level.SEVERE.intValue()) {
            return "error";
        }
        if (l.intValue() >= Level.WARNING.intValue()) {
            return "warn";
        }
        if (l.intValue() >= Level.INFO.intValue()) {
            return "info";
        }
        if (l.intValue() >= Level.FINE.intValue()) {
            return "debug";
        }
        return "trace";
    }

    private static final class OneLine extends Formatter {
        @Override
        public String format(LogRecord r) {
            String lvl = r.getLevel() == Level.SEVERE ? "ERROR" : r.getLevel() == Level.WARNING ? "WARN"
                    : r.getLevel() == Level.INFO ? "INFO" : r.getLevel().intValue() >= Level.FINE.intValue() ? "DEBUG"
                    : "TRACE";
            String name = r.getLoggerName() == null ? "" : r.getLoggerName();
            int dot = name.lastIndexOf('.');
            StringBuilder sb = new StringBuilder(128).append(Instant.ofEpochMilli(r.getMillis())).append(' ')
                    .append(lvl).append(' ').append(dot < 0 ? name : name.substring(dot + 1)).append(": ")
                    .append(formatMessage(r)).append('\n');
            if (r.getThrown() != null) {
                StringWriter sw = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(sw));
                sb.append(sw);
            }
            return sb.toString();
        }
    }
}
