package dev.hypha.inject;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code hypha install}: renders the manifests under {@code kubernetes/} (the one source, packaged in this jar)
 * with the mesh values, adds the identity Secret and the {@code hypha-config} ConfigMap, and returns the documents
 * in apply order. {@code {{key}}} in a template is a mesh value; an unknown key is a bug and fails loudly.
 */
public final class Install {
    /** Templates in apply order (CRDs and the namespace first, the webhook last). */
    public static final List<String> CRD_TEMPLATES = List.of("kubernetes/crds/serviceprofiles.hypha.dev.yaml");
    public static final List<String> TEMPLATES = List.of("kubernetes/control/namespace.yaml",
            "kubernetes/control/rbac.yaml", "kubernetes/control/deployment.yaml", "kubernetes/injector/rbac.yaml",
            "kubernetes/injector/deployment.yaml", "kubernetes/injector/webhook.yaml");
    public static final String ISSUER_SECRET = "hypha-identity-issuer";
    public static final Duration ANCHOR_LIFETIME = Duration.ofDays(3650);
    public static final Duration ISSUER_LIFETIME = Duration.ofDays(365);

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{([a-z0-9-]+)}}");
    static final YAMLMapper YAML = YAMLMapper.builder(YAMLFactory.builder()
                    .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                    .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                    .stringQuotingChecker(new PlainWhereSafe())
                    .enable(YAMLGenerator.Feature.LITERAL_BLOCK_STYLE)
                    .build())
            .build();

    private Install() {
    }

    /**
     * Leaves a string unquoted only when no YAML reader could take it for anything else: a letter or {@code /}
     * first, then letters, digits and {@code ._/:@-}, and not a YAML 1.1 boolean or null.
     */
    static final class PlainWhereSafe extends com.fasterxml.jackson.dataformat.yaml.util.StringQuotingChecker {
        private static final Pattern SAFE = Pattern.compile("[A-Za-z/][A-Za-z0-9._/@-]*(:[A-Za-z0-9._/@-]+)*");
        private static final java.util.Set<String> RESERVED = java.util.Set.of("y", "n", "yes", "no", "on", "off",
                "true", "false", "null");

        @Override
        public boolean needToQuoteName(String name) {
            return isReservedKeyword(name) || looksLikeYAMLNumber(name);
        }

        @Override
        public boolean needToQuoteValue(String value) {
            return !SAFE.matcher(value).matches() || RESERVED.contains(value.toLowerCase(java.util.Locale.ROOT));
        }
    }

    /** The identity the control plane signs with: trust anchors (PEM, one or more) and the issuer. */
    public record Identity(String trustAnchorsPem, String issuerCertPem, String issuerKeyPem) {
        /** Makes a trust anchor and an issuer signed by it. */
        public static Identity generate(String trustDomain, Instant now) {
            Pki.Issued root = Pki.root("root.hypha." + trustDomain, now, ANCHOR_LIFETIME);
            Pki.Issued issuer = Pki.intermediate("identity.hypha." + trustDomain, root, now, ISSUER_LIFETIME);
            return new Identity(root.certPem(), issuer.certPem(), issuer.keyPem());
        }

        /**
         * Checks what a user brought: parseable, the key belongs to the issuer, the issuer is a CA signed by one
         * of the anchors, nothing expired. Every problem is listed.
         */
        public List<String> problems(Instant now) {
            List<String> out = new ArrayList<>();
            List<X509Certificate> anchors;
            X509Certificate issuer;
            try {
                anchors = Pki.certificates(trustAnchorsPem, "the trust anchors file");
                issuer = Pki.certificates(issuerCertPem, "the issuer certificate file").get(0);
            } catch (IllegalArgumentException e) {
                out.add(e.getMessage());
                return out;
            }
            try {
                if (!Pki.matches(issuer, Pki.privateKey(issuerKeyPem, "the issuer key file"))) {
                    out.add("the issuer key does not belong to the issuer certificate");
                }
            } catch (IllegalArgumentException e) {
                out.add(e.getMessage());
            }
            if (issuer.getBasicConstraints() < 0) {
                out.add("the issuer certificate is not a CA (basicConstraints CA:TRUE needed)");
            }
            if (anchors.stream().noneMatch(a -> Pki.signedBy(issuer, a))) {
                out.add("the issuer certificate is not signed by any of the trust anchors");
            }
            if (issuer.getNotAfter().toInstant().isBefore(now)) {
                out.add("the issuer certificate expired on " + issuer.getNotAfter().toInstant());
            }
            for (X509Certificate a : anchors) {
                if (a.getNotAfter().toInstant().isBefore(now)) {
                    out.add("trust anchor " + a.getSubjectX500Principal().getName() + " expired on "
                            + a.getNotAfter().toInstant());
                }
            }
            return out;
        }
    }

    /** Renders CRDs only ({@code hypha install --crds}). */
    public static List<JsonNode> crds() {
        return render(CRD_TEMPLATES, Map.of());
    }

    /** Renders the whole installation. */
    public static List<JsonNode> render(MeshValues values, Identity identity, boolean withCrds, boolean ha) {
        List<JsonNode> docs = new ArrayList<>();
        if (withCrds) {
            docs.addAll(crds());
        }
        List<JsonNode> main = render(TEMPLATES, values.asMap());
        docs.add(main.get(0)); // namespace first
        docs.add(configMap(new Mesh(values, identity.trustAnchorsPem())));
        docs.add(issuerSecret(identity));
        docs.addAll(main.subList(1, main.size()));
        if (ha) {
            for (JsonNode d : docs) {
                requireAntiAffinity(d);
            }
        }
        return docs;
    }

    /** The objects {@code hypha install} creates, by kind and name, in delete order ({@code hypha uninstall}). */
    public static List<JsonNode> uninstall() {
        List<JsonNode> all = new ArrayList<>(render(TEMPLATES, MeshValues.defaults().asMap()));
        all.addAll(crds());
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode d : all) {
            if (!d.path("metadata").path("namespace").asText("").isEmpty()) {
                continue; // namespaced objects go with the namespace
            }
            ObjectNode o = YAML.createObjectNode();
            o.put("apiVersion", d.path("apiVersion").asText());
            o.put("kind", d.path("kind").asText());
            o.putObject("metadata").put("name", d.path("metadata").path("name").asText());
            out.add(o);
        }
        Collections.reverse(out);
        return out;
    }

    static ObjectNode configMap(Mesh mesh) {
        ObjectNode cm = YAML.createObjectNode();
        cm.put("apiVersion", "v1");
        cm.put("kind", "ConfigMap");
        ObjectNode meta = cm.putObject("metadata");
        meta.put("name", Mesh.CONFIG_MAP);
        meta.put("namespace", Mesh.NAMESPACE);
        meta.putObject("labels").put("app.kubernetes.io/part-of", "hypha");
        ObjectNode data = cm.putObject("data");
        mesh.toConfigMapData().forEach(data::put);
        return cm;
    }

    static ObjectNode issuerSecret(Identity id) {
        ObjectNode s = YAML.createObjectNode();
        s.put("apiVersion", "v1");
        s.put("kind", "Secret");
        ObjectNode meta = s.putObject("metadata");
        meta.put("name", ISSUER_SECRET);
        meta.put("namespace", Mesh.NAMESPACE);
        meta.putObject("labels").put("app.kubernetes.io/part-of", "hypha");
        s.put("type", "kubernetes.io/tls");
        ObjectNode data = s.putObject("data");
        data.put("tls.crt", b64(id.issuerCertPem()));
        data.put("tls.key", b64(id.issuerKeyPem()));
        data.put("ca.crt", b64(id.trustAnchorsPem()));
        return s;
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII));
    }

    /** HA: replicas must land on different nodes (required, not preferred, anti-affinity). */
    private static void requireAntiAffinity(JsonNode d) {
        if (!"Deployment".equals(d.path("kind").asText())) {
            return;
        }
        JsonNode anti = d.at("/spec/template/spec/affinity/podAntiAffinity");
        if (!(anti instanceof ObjectNode a) || !a.has("preferredDuringSchedulingIgnoredDuringExecution")) {
            return;
        }
        ArrayNode required = YAML.createArrayNode();
        for (JsonNode p : a.get("preferredDuringSchedulingIgnoredDuringExecution")) {
            required.add(p.get("podAffinityTerm"));
        }
        a.remove("preferredDuringSchedulingIgnoredDuringExecution");
        a.set("requiredDuringSchedulingIgnoredDuringExecution", required);
    }

    static List<JsonNode> render(List<String> templates, Map<String, String> values) {
        List<JsonNode> out = new ArrayList<>();
        for (String t : templates) {
            String text = substitute(t, resource(t), values);
            try {
                out.addAll(parseYaml(text));
            } catch (IOException e) {
                throw new IllegalStateException(t + " does not parse after rendering: " + e.getMessage(), e);
            }
        }
        return out;
    }

    static String substitute(String name, String text, Map<String, String> values) {
        Matcher m = PLACEHOLDER.matcher(text);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            if (v == null) {
                throw new IllegalStateException(name + " uses {{" + m.group(1) + "}}, which is not a mesh value");
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(v));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    static String resource(String path) {
        try (InputStream in = Install.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + " is missing from the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Documents as multi-document YAML ({@code ---} between them). */
    public static String toYaml(List<JsonNode> docs) {
        StringWriter w = new StringWriter();
        for (int i = 0; i < docs.size(); i++) {
            if (i > 0) {
                w.append("---\n");
            }
            try {
                w.append(YAML.writeValueAsString(docs.get(i)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return w.toString();
    }

    /** Parses multi-document YAML (or JSON) into trees, skipping empty documents. */
    public static List<JsonNode> parseYaml(String text) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(text)) {
            while (it.hasNext()) {
                JsonNode n = it.next();
                if (n != null && !n.isNull() && !n.isMissingNode()) {
                    out.add(n);
                }
            }
        } catch (RuntimeException e) { // the iterator wraps parse errors
            throw new IOException(e.getCause() != null ? e.getCause().getMessage() : e.getMessage(), e);
        }
        return out;
    }

    static ObjectMapper yaml() {
        return YAML;
    }
}
