package dev.hypha.inject;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Strings that look like numbers, booleans or null must stay strings when written as YAML. */
class YamlOutputTest {
    @Test
    void ambiguousStringsStayStrings() throws Exception {
        ObjectNode n = Install.YAML.createObjectNode();
        List<String> tricky = List.of("1", "2102", "0.5", "1e3", "0x1F", "true", "false", "yes", "no", "on", "off",
                "null", "~", "", " lead", "a: b", "- x", "#c", "25,587", "y", "n", "Y", "NO", "010", "+1", ".inf",
                "2026-01-01", "12:30");
        for (int i = 0; i < tricky.size(); i++) {
            n.put("k" + i, tricky.get(i));
        }
        JsonNode back = Install.parseYaml(Install.toYaml(List.of(n))).get(0);
        for (int i = 0; i < tricky.size(); i++) {
            JsonNode v = back.get("k" + i);
            assertTrue(v.isTextual(), "'" + tricky.get(i) + "' came back as " + v.getNodeType());
            assertEquals(tricky.get(i), v.asText());
        }
    }
}
