package dev.hypha.inject;

/**
 * What the API server can do that injection depends on: native sidecars (init containers with
 * {@code restartPolicy: Always}, on by default from Kubernetes 1.29) and projected ServiceAccount tokens with an
 * audience (1.20).
 */
public record Capabilities(boolean nativeSidecars, boolean tokenProjection) {
    /** Assumed when nothing is known (offline {@code hypha inject --manual}): a current cluster. */
    public static final Capabilities CURRENT = new Capabilities(true, true);

    /** From the API server's {@code /version} major and minor (minor may carry a suffix such as {@code 29+}). */
    public static Capabilities forVersion(String major, String minor) {
        int ma = leadingInt(major);
        int mi = leadingInt(minor);
        if (ma < 0 || mi < 0) {
            return CURRENT;
        }
        boolean atLeast129 = ma > 1 || (ma == 1 && mi >= 29);
        boolean atLeast120 = ma > 1 || (ma == 1 && mi >= 20);
        return new Capabilities(atLeast129, atLeast120);
    }

    private static int leadingInt(String s) {
        if (s == null) {
            return -1;
        }
        int i = 0;
        while (i < s.length() && Character.isDigit(s.charAt(i))) {
            i++;
        }
        return i == 0 ? -1 : Integer.parseInt(s.substring(0, i));
    }
}
