package dev.hypha.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The API server's rules for a structural OpenAPI v3 schema (Kubernetes docs, "Specifying a structural schema"),
 * checked without a cluster: every node has a type (unless int-or-string or preserve-unknown-fields), arrays have
 * items, properties and additionalProperties exclude each other, logical junctors (allOf/anyOf/oneOf/not) only
 * validate fields that are also declared outside them and set no type/description/default/nullable/
 * additionalProperties, and metadata restricts only name and generateName.
 */
final class StructuralSchema {
    private static final Set<String> JUNCTORS = Set.of("allOf", "anyOf", "oneOf", "not");
    private static final Set<String> FORBIDDEN_IN_JUNCTORS = Set.of("type", "description", "default", "nullable",
            "additionalProperties");

    private StructuralSchema() {
    }

    static List<String> check(JsonNode root) {
        List<String> problems = new ArrayList<>();
        node(root, "", problems, true);
        return problems;
    }

    private static void node(JsonNode s, String path, List<String> out, boolean root) {
        boolean intOrString = s.path("x-kubernetes-int-or-string").asBoolean(false);
        boolean preserve = s.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
        String type = s.path("type").asText("");
        if (type.isEmpty() && !intOrString && !preserve) {
            out.add((path.isEmpty() ? "<root>" : path) + ": no type");
        }
        if (s.has("properties") && s.has("additionalProperties") && !s.get("additionalProperties").isBoolean()) {
            out.add(path + ": properties and additionalProperties together");
        }
        if ("array".equals(type) && !s.has("items")) {
            out.add(path + ": an array without items");
        }
        if (s.has("items") && !s.get("items").isObject()) {
            out.add(path + ": items must be one schema");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = s.path("properties").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String p = path + "." + e.getKey();
            if (root && e.getKey().equals("metadata")) {
                for (Iterator<String> f = e.getValue().path("properties").fieldNames(); f.hasNext(); ) {
                    String name = f.next();
                    if (!name.equals("name") && !name.equals("generateName")) {
                        out.add(p + ": metadata may restrict only name and generateName, not " + name);
                    }
                }
            }
            node(e.getValue(), p, out, false);
        }
        if (s.get("additionalProperties") != null && s.get("additionalProperties").isObject()) {
            node(s.get("additionalProperties"), path + ".*", out, false);
        }
        if (s.get("items") != null && s.get("items").isObject()) {
            node(s.get("items"), path + "[]", out, false);
        }
        for (String j : JUNCTORS) {
            JsonNode v = s.get(j);
            if (v == null) {
                continue;
            }
            List<JsonNode> branches = new ArrayList<>();
            if (v.isArray()) {
                v.forEach(branches::add);
            } else {
                branches.add(v);
            }
            for (JsonNode b : branches) {
                junctor(b, s, path + "." + j, out, intOrString);
            }
        }
    }

    private static void junctor(JsonNode b, JsonNode outside, String path, List<String> out, boolean intOrString) {
        for (String f : FORBIDDEN_IN_JUNCTORS) {
            if (b.has(f) && !(intOrString && f.equals("type"))) {
                out.add(path + ": sets " + f + " inside a logical junctor");
            }
        }
        for (Iterator<String> it = b.path("properties").fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!outside.path("properties").has(name)) {
                out.add(path + ": validates field " + name + ", which is not declared outside the junctor");
            }
        }
    }
}
