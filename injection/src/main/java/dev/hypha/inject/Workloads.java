package dev.hypha.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.zjsonpatch.JsonPatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code hypha inject}: finds the pod templates in Kubernetes documents (Pods, Deployments, StatefulSets,
 * DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs, and Lists of them) and either adds the opt-in
 * label (the webhook then injects in-cluster) or, with {@code manual}, applies {@link Injector}'s patch to the
 * template itself, so that the result is exactly what the webhook would make of the pods. Documents are JSON
 * trees, so fields this code does not know pass through untouched; other kinds pass through unchanged. A Namespace
 * document in the same input lends its {@code config.hypha.dev/*} annotations to the workloads in it.
 */
public final class Workloads {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Workloads() {
    }

    /** One line of the report: which object, what happened, why. */
    public record Line(String object, Reason reason, String message, List<String> notes) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(object).append(": ").append(reason.code()).append(": ")
                    .append(message);
            for (String n : notes) {
                sb.append("\n  note: ").append(n);
            }
            return sb.toString();
        }
    }

    public record Output(List<JsonNode> documents, List<Line> report) {
        public boolean anyInvalid() {
            return report.stream().anyMatch(l -> l.reason() == Reason.INVALID_CONFIG);
        }
    }

    public static Output inject(List<JsonNode> docs, Mesh mesh, Capabilities caps, boolean manual,
            String defaultNamespace) {
        Map<String, Namespace> namespaces = new HashMap<>();
        for (JsonNode d : docs) {
            if ("Namespace".equals(d.path("kind").asText()) && d.path("metadata").has("name")) {
                namespaces.put(d.path("metadata").path("name").asText(), JSON.convertValue(d, Namespace.class));
            }
        }
        List<JsonNode> out = new ArrayList<>();
        List<Line> report = new ArrayList<>();
        for (JsonNode d : docs) {
            out.add(document(d, mesh, caps, manual, defaultNamespace, namespaces, report));
        }
        return new Output(out, report);
    }

    private static JsonNode document(JsonNode d, Mesh mesh, Capabilities caps, boolean manual, String defaultNs,
            Map<String, Namespace> namespaces, List<Line> report) {
        String kind = d.path("kind").asText("");
        String name = d.path("metadata").path("name").asText("");
        String object = kind.toLowerCase(Locale.ROOT) + "/" + (name.isEmpty() ? "(unnamed)" : name);
        if (kind.endsWith("List") && d.path("items").isArray()) {
            ObjectNode copy = d.deepCopy();
            ArrayNode items = copy.putArray("items");
            for (JsonNode item : d.path("items")) {
                items.add(document(item, mesh, caps, manual, defaultNs, namespaces, report));
            }
            return copy;
        }
        String pointer = switch (kind) {
            case "Pod" -> "";
            case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job" ->
                    "/spec/template";
            case "CronJob" -> "/spec/jobTemplate/spec/template";
            default -> null;
        };
        if (pointer == null) {
            if (!kind.isEmpty()) {
                report.add(new Line(object, Reason.UNSUPPORTED_KIND, "passed through unchanged (not a workload)",
                        List.of()));
            }
            return d;
        }
        JsonNode template = pointer.isEmpty() ? d : d.at(pointer);
        if (!template.isObject()) {
            report.add(new Line(object, Reason.INVALID_CONFIG, "has no pod template at " + pointer, List.of()));
            return d;
        }
        String ns = d.path("metadata").path("namespace").asText("");
        if (ns.isEmpty()) {
            ns = defaultNs;
        }
        ObjectNode podNode = JSON.createObjectNode();
        podNode.put("apiVersion", "v1");
        podNode.put("kind", "Pod");
        podNode.set("metadata", template.path("metadata").isObject() ? template.get("metadata")
                : JSON.createObjectNode());
        podNode.set("spec", template.path("spec"));
        try {
            JSON.convertValue(podNode, Pod.class); // a template the API server would refuse is reported, not injected
        } catch (IllegalArgumentException e) {
            report.add(new Line(object, Reason.INVALID_CONFIG, "the pod template does not parse: "
                    + e.getMessage().lines().findFirst().orElse(""), List.of()));
            return d;
        }
        Injector.Result r = Injector.inject(podNode, object, ns, namespaces.get(ns), mesh, caps);
        String message = r.report().message().startsWith(object + " ")
                ? r.report().message().substring(object.length() + 1) : r.report().message();
        if (!r.injected()) {
            report.add(new Line(object, r.report().reason(), message, r.report().notes()));
            return d;
        }
        ObjectNode copy = d.deepCopy();
        ObjectNode target = pointer.isEmpty() ? copy : (ObjectNode) copy.at(pointer);
        if (!manual) {
            ObjectNode meta = target.path("metadata").isObject() ? (ObjectNode) target.get("metadata")
                    : target.putObject("metadata");
            ObjectNode labels = meta.path("labels").isObject() ? (ObjectNode) meta.get("labels")
                    : meta.putObject("labels");
            labels.put(Injector.INJECT, "enabled");
            report.add(new Line(object, Reason.OPT_IN_LABEL_ADDED, "labelled " + Injector.INJECT
                    + "=enabled: the webhook injects its pods when they are created", List.of()));
            return copy;
        }
        // apply to the template exactly the patch the webhook would send for its pods
        ObjectNode patchedPod = (ObjectNode) JsonPatch.apply(r.patch(), podNode);
        target.set("metadata", patchedPod.get("metadata"));
        target.set("spec", patchedPod.get("spec"));
        report.add(new Line(object, Reason.INJECTED, message, r.report().notes()));
        return copy;
    }
}
