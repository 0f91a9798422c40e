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
import com.networknt.schema.ValidationMessage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Sample ServiceProfiles — real-world shapes that must be accepted and mistakes that must be refused — checked
 * against the CRD's OpenAPI schema without a cluster. Like server-side strict field validation ({@code kubectl
 * apply}'s default), unknown fields are errors. The CRD's CEL rules ({@code min <= max}, header value/regex) need
 * the API server; the controller checks the same things (ProfileTranslator), which KubernetesModeTest covers.
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

    @Test
    void realWorldShapesAreAccepted() throws Exception {
        JsonSchema schema = schema();
        List<Path> valid = samples("valid");
        assertFalse(valid.isEmpty());
        for (Path p : valid) {
            Set<ValidationMessage> errors = schema.validate(YAML.readTree(Files.readString(p)));
            assertTrue(errors.isEmpty(), p.getFileName() + " must be accepted: " + errors);
        }
    }

    @Test
    void mistakesAreRefusedNamingTheField() throws Exception {
        JsonSchema schema = schema();
        List<Path> invalid = samples("invalid");
        assertTrue(invalid.size() >= 6);
        for (Path p : invalid) {
            Set<ValidationMessage> errors = schema.validate(YAML.readTree(Files.readString(p)));
            assertFalse(errors.isEmpty(), p.getFileName() + " must be refused");
            assertTrue(errors.stream().anyMatch(e -> e.getMessage().contains("spec")),
                    p.getFileName() + ": the error must name the field: " + errors);
        }
    }
}
