package dev.hypha.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.hypha.inject.Install;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@code hypha inject --manual} against golden files: each {@code X.input.yaml} must become {@code X.golden.yaml}
 * (compared as parsed YAML) with the report and exit code in {@code X.report.txt} (compared as text).
 */
class InjectGoldenTest {

    @TestFactory
    Stream<DynamicTest> manualInjectionMatchesTheGoldenFiles() throws Exception {
        return Golden.cases().stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            Path input = Golden.DIR.resolve(name + ".input.yaml");
            Golden.Run r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(),
                    "-f", input.toString());
            String report = "exit: " + r.rc() + "\n" + r.err();
            Path golden = Golden.DIR.resolve(name + ".golden.yaml");
            Path reportFile = Golden.DIR.resolve(name + ".report.txt");
            if (Golden.UPDATE) {
                Files.writeString(golden, r.out());
                Files.writeString(reportFile, report);
            }
            assertEquals(Golden.yaml(golden), Install.parseYaml(r.out()), name + ": output differs from " + golden);
            assertEquals(Files.readString(reportFile), report, name + ": report differs from " + reportFile);
        }));
    }

    @Test
    void injectionIsIdempotent() throws Exception {
        for (String name : Golden.cases()) {
            Path golden = Golden.DIR.resolve(name + ".golden.yaml");
            Golden.Run r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(),
                    "-f", golden.toString());
            assertEquals(Golden.yaml(golden), Install.parseYaml(r.out()), name + ": injecting twice changed it");
            assertTrue(!r.err().contains(": injected:"), name + ": injected twice: " + r.err());
        }
    }

    @Test
    void withoutManualTheOptInLabelIsAddedAndNothingElse() throws Exception {
        Path input = Golden.DIR.resolve("deployment.input.yaml");
        Golden.Run r = Golden.hypha("inject", "-f", input.toString());
        assertEquals(0, r.rc(), r.err());
        JsonNode in = Golden.yaml(input).get(0);
        JsonNode out = Install.parseYaml(r.out()).get(0);
        assertEquals("enabled", out.at("/spec/template/metadata/labels/hypha.dev~1inject").asText());
        ((com.fasterxml.jackson.databind.node.ObjectNode) out.at("/spec/template/metadata/labels"))
                .remove("hypha.dev/inject");
        assertEquals(in, out, "only the label may change");
        assertEquals("deployment/web: opt_in_label_added: labelled hypha.dev/inject=enabled: the webhook injects "
                + "its pods when they are created\n", r.err());
    }

    @Test
    void stdinIsReadWithDash() throws Exception {
        byte[] in = Files.readAllBytes(Golden.DIR.resolve("job.input.yaml"));
        InjectCommand.stdin = new ByteArrayInputStream(in);
        try {
            Golden.Run r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(), "-f",
                    "-");
            assertEquals(0, r.rc(), r.err());
            assertEquals(Golden.yaml(Golden.DIR.resolve("job.golden.yaml")), Install.parseYaml(r.out()));
        } finally {
            InjectCommand.stdin = System.in;
        }
    }

    @Test
    void badInputIsExplained() throws Exception {
        Path bad = Files.createTempFile("bad", ".yaml");
        Files.writeString(bad, "kind: Deployment\n  metadata: [unclosed\n", StandardCharsets.UTF_8);
        Golden.Run r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(), "-f",
                bad.toString());
        assertEquals(1, r.rc());
        assertTrue(r.err().startsWith("hypha inject: " + bad + " is not YAML:"), r.err());

        r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(), "-f",
                "/nonexistent.yaml");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("cannot read /nonexistent.yaml"), r.err());

        r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(), "--set",
                "proxy-log-level=loud", "-f", Golden.DIR.resolve("job.input.yaml").toString());
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("proxy-log-level='loud' is not valid: expected off, error, warn, info, debug or "
                + "trace"), r.err());

        r = Golden.hypha("inject", "--bogus");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("Unknown option: '--bogus'"), r.err());
        Files.delete(bad);
    }

    @Test
    void classicSidecarsForOldApiServers() throws Exception {
        Golden.Run r = Golden.hypha("inject", "--manual", "--mesh-config", Golden.MESH_CONFIG.toString(),
                "--kubernetes-version", "1.28", "-f", Golden.DIR.resolve("deployment.input.yaml").toString());
        assertEquals(0, r.rc(), r.err());
        JsonNode spec = Install.parseYaml(r.out()).get(0).at("/spec/template/spec");
        assertEquals("hypha-proxy", spec.at("/containers/0/name").asText());
        List<String> inits = new java.util.ArrayList<>();
        spec.get("initContainers").forEach(c -> inits.add(c.get("name").asText()));
        assertEquals(List.of("hypha-init"), inits);
        assertTrue(r.err().contains("classic sidecar"), r.err());
    }
}
