package dev.hypha.proxy.config;

import java.time.Duration;

/** Durations as operators write them: {@code 250ms}, {@code 1s}, {@code 2m}, {@code 1h} (a bare number is seconds). */
public final class Durations {
    private Durations() {
    }

    public static Duration parse(String s) {
        if (s == null || s.isBlank()) {
            return null;
        }
        String t = s.trim();
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            char unit = t.charAt(t.length() - 1);
            String num = Character.isDigit(unit) ? t : t.substring(0, t.length() - 1);
            long n = Long.parseLong(num);
            if (n < 0) {
                return null;
            }
            return switch (unit) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                default -> Character.isDigit(unit) ? Duration.ofSeconds(n) : null;
            };
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }

    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 != 0) {
            return ms + "ms";
        }
        long s = ms / 1000;
        if (s != 0 && s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s != 0 && s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
