package dev.hypha.inject;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The installed mesh as injection sees it: the install values and the trust anchors (PEM). Stored by
 * {@code hypha install} in ConfigMap {@code hypha-system/hypha-config} (one data key per value, plus
 * {@value #TRUST_ANCHORS_KEY}) and read back from there by the injector.
 */
public record Mesh(MeshValues values, String trustAnchorsPem) {
    public static final String NAMESPACE = "hypha-system";
    public static final String CONFIG_MAP = "hypha-config";
    public static final String TRUST_ANCHORS_KEY = "trust-anchors.pem";

    /** Reads a ConfigMap's data; every problem is listed in the exception. */
    public static Mesh fromConfigMapData(Map<String, String> data) throws MeshValues.InvalidValuesException {
        Map<String, String> values = new TreeMap<>(data == null ? Map.of() : data);
        String anchors = values.remove(TRUST_ANCHORS_KEY);
        if (anchors == null || !anchors.contains("-----BEGIN CERTIFICATE-----")) {
            throw new MeshValues.InvalidValuesException(java.util.List.of(CONFIG_MAP + " has no " + TRUST_ANCHORS_KEY
                    + " with PEM certificates: re-run hypha install"));
        }
        return new Mesh(MeshValues.defaults().withInstallValues(values), anchors);
    }

    public Map<String, String> toConfigMapData() {
        Map<String, String> out = new LinkedHashMap<>(values.asMap());
        out.put(TRUST_ANCHORS_KEY, trustAnchorsPem);
        return out;
    }

    /** {@code host:port} of the control plane's gRPC port (Identity and Destination). */
    public String controlAddress() {
        return "hypha-control." + NAMESPACE + ".svc." + values.get("cluster-domain") + ":8086";
    }

    /** The identity the control plane's gRPC port proves. */
    public String controlIdentity() {
        return "hypha-control." + NAMESPACE + ".serviceaccount.identity." + values.get("trust-domain");
    }
}
