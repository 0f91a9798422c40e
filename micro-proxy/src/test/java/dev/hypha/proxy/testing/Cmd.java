package dev.hypha.proxy.testing;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs an external command (curl, h2load, promtool, ip, iptables) with a deadline. */
public final class Cmd {
    private Cmd() {
    }

    public record Result(int exit, String out, String err) {
    }

    public static boolean available(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    public static Result run(long timeoutSeconds, List<String> command) throws Exception {
        Path out = Files.createTempFile("cmd", ".out");
        Path err = Files.createTempFile("cmd", ".err");
        try {
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out after " + timeoutSeconds + "s: " + command);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    public static Result run(long timeoutSeconds, String... command) throws Exception {
        return run(timeoutSeconds, List.of(command));
    }

    /**
     * Waits (at most 30 s) until a process's log holds {@code text} and returns the log; fails with the log when the
     * process exits first or the text never appears.
     */
    public static String awaitLog(Path log, String text, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                String content = Files.readString(log);
                if (content.contains(text)) {
                    return content;
                }
            }
            if (!p.isAlive()) {
                throw new AssertionError("process exited: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("'" + text + "' never appeared: " + Files.readString(log));
    }

    /** True in CI, where every tool the tests use must be installed (a missing one fails instead of skipping). */
    public static boolean inCi() {
        return "true".equals(System.getenv("CI"));
    }
}
