package dev.hypha.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.hypha.inject.Install;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The golden files shared with the webhook's tests: {@code injection/src/test/golden}. */
public final class Golden {
    public static final Path DIR = locate();
    public static final Path MESH_CONFIG = DIR.resolve("mesh-config.yaml");
    /** {@code -Dhypha.golden.update=true} rewrites the golden files from the current output (then review the diff). */
    public static final boolean UPDATE = Boolean.getBoolean("hypha.golden.update");

    private Golden() {
    }

    private static Path locate() {
        for (Path p : List.of(Path.of("../injection/src/test/golden"), Path.of("injection/src/test/golden"))) {
            if (Files.isDirectory(p)) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("injection/src/test/golden not found from " + Path.of("").toAbsolutePath());
    }

    public static List<String> cases() throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".input.yaml"))
                    .map(n -> n.substring(0, n.length() - ".input.yaml".length())).sorted().toList();
        }
    }

    public static List<JsonNode> yaml(Path p) throws IOException {
        return Install.parseYaml(Files.readString(p));
    }

    /** A CLI run's exit code and streams. */
    public record Run(int rc, String out, String err) {
    }

    public static Run hypha(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Hypha.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Run(rc, out.toString(), err.toString());
    }
}
