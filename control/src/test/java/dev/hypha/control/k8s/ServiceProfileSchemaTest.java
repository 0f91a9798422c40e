package dev.hypha.control.k8s;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Sample ServiceProfiles — real-world shapes that must be accepted and mistakes that must be refused — checked
 * against the CRD's OpenAPI schema without a cluster. Like server-side strict field validation ({@code kubectl
 * apply}'s default), unknown fields are errors. The CRD's two CEL rules ({@code x-kubernetes-validations}) are
 * evaluated by {@link Cel}, a tiny evaluator for exactly the expression forms the CRD uses ({@code has()}, {@code !},
 * {@code !=}, {@code <=}, {@code ||}); the API server evaluates them for real, and the controller checks the same
 * things again (ProfileTranslator, covered by KubernetesModeTest).
 */
class ServiceProfileSchemaTest {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final Path CRD = Path.of("..", "kubernetes", "crds", "serviceprofiles.hypha.dev.yaml");

    static JsonSchema schema() throws Exception {
        JsonNode crd = YAML.readTree(Files.readString(CRD));
        JsonNode openApi = crd.at("/spec/versions/0/schema/openAPIV3Schema").deepCopy();
        strict(openApi);
        ((ObjectNode) openApi).remove("additionalProperties"); // apiVersion, kind, metadata are the API server's
        return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4).getSchema(openApi);
    }

    /** Objects with declared properties refuse undeclared ones, unless they preserve unknown fields. */
    static void strict(JsonNode n) {
        if (n instanceof ObjectNode o) {
            if (o.has("properties") && !o.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)) {
                o.put("additionalProperties", false);
            }
            if (o.path("x-kubernetes-int-or-string").asBoolean(false)) {
                o.remove("type"); // int-or-string: either, the pattern applies to strings
            }
            o.elements().forEachRemaining(ServiceProfileSchemaTest::strict);
        } else if (n.isArray()) {
            n.elements().forEachRemaining(ServiceProfileSchemaTest::strict);
        }
    }

    static List<Path> samples(String kind) throws Exception {
        try (Stream<Path> s = Files.list(Path.of("src", "test", "resources", "serviceprofiles", kind))) {
            return s.sorted().toList();
        }
    }

    /** All errors: the OpenAPI schema's, then the CEL rules' (each rule applied where the schema declares it). */
    static List<String> errors(JsonSchema schema, JsonNode crdSchema, JsonNode doc) {
        List<String> out = new java.util.ArrayList<>();
        schema.validate(doc).forEach(m -> out.add(m.getMessage()));
        cel(crdSchema, doc, "$", out);
        return out;
    }

    static void cel(JsonNode schema, JsonNode value, String at, List<String> out) {
        if (value == null || value.isMissingNode() || value.isNull()) {
            return;
        }
        for (JsonNode rule : schema.path("x-kubernetes-validations")) {
            if (!Cel.eval(rule.get("rule").asText(), value)) {
                out.add(at + ": " + rule.get("message").asText());
            }
        }
        schema.path("properties").fields().forEachRemaining(e ->
                cel(e.getValue(), value.path(e.getKey()), at + "." + e.getKey(), out));
        if (schema.has("items") && value.isArray()) {
            for (int i = 0; i < value.size(); i++) {
                cel(schema.get("items"), value.get(i), at + "[" + i + "]", out);
            }
        }
    }

    /** The CEL subset the CRD's rules use: {@code has(self.f)}, {@code self.f}, {@code !}, {@code !=}, {@code <=}, {@code ||}. */
    static final class Cel {
        static boolean eval(String rule, JsonNode self) {
            String r = rule.trim();
            if (r.contains("||")) {
                for (String part : r.split("\\|\\|")) {
                    if (eval(part, self)) {
                        return true;
                    }
                }
                return false;
            }
            if (r.contains("!=")) {
                String[] p = r.split("!=");
                return !value(p[0], self).equals(value(p[1], self));
            }
            if (r.contains("<=")) {
                String[] p = r.split("<=");
                return ((Number) value(p[0], self)).doubleValue() <= ((Number) value(p[1], self)).doubleValue();
            }
            if (r.startsWith("!")) {
                return !eval(r.substring(1), self);
            }
            return (Boolean) value(r, self);
        }

        static Object value(String expr, JsonNode self) {
            String e = expr.trim();
            if (e.startsWith("has(") && e.endsWith(")")) {
                return self.has(e.substring(4, e.length() - 1).trim().substring("self.".length()));
            }
            if (e.startsWith("self.")) {
                JsonNode v = self.path(e.substring("self.".length()));
                return v.isNumber() ? v.numberValue() : v.asText();
            }
            throw new IllegalArgumentException("unsupported CEL expression: " + expr);
        }
    }

    static JsonNode crdSchema() throws Exception {
        return YAML.readTree(Files.readString(CRD)).at("/spec/versions/0/schema/openAPIV3Schema");
    }

    @Test
    void realWorldShapesAreAccepted() throws Exception {
        JsonSchema schema = schema();
        JsonNode crd = crdSchema();
        List<Path> valid = samples("valid");
        assertFalse(valid.isEmpty());
        for (Path p : valid) {
            List<String> errors = errors(schema, crd, YAML.readTree(Files.readString(p)));
            assertTrue(errors.isEmpty(), p.getFileName() + " must be accepted: " + errors);
        }
    }

    @Test
    void mistakesAreRefusedNamingTheField() throws Exception {
        JsonSchema schema = schema();
        JsonNode crd = crdSchema();
        List<Path> invalid = samples("invalid");
        assertTrue(invalid.size() >= 8);
        for (Path p : invalid) {
            List<String> errors = errors(schema, crd, YAML.readTree(Files.readString(p)));
            assertFalse(errors.isEmpty(), p.getFileName() + " must be refused");
            assertTrue(errors.stream().anyMatch(e -> e.contains("spec")),
                    p.getFileName() + ": the error must name the field: " + errors);
        }
    }
}
