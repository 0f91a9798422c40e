package dev.hypha.inject;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Skip reasons that depend on the API server, which the golden files (a current cluster) cannot show. */
class InjectorTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Mesh MESH = new Mesh(MeshValues.defaults(), "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n");

    static JsonNode pod(String spec) throws Exception {
        return JSON.readTree("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"generateName\":\"web-\"},"
                + "\"spec\":" + spec + "}");
    }

    @Test
    void withoutTokenProjectionThePodIsLeftAloneWithTheReason() throws Exception {
        Capabilities old = Capabilities.forVersion("1", "19");
        Injector.Result r = Injector.inject(pod("{\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"a\"}]}"),
                "pod web-*", "shop", null, MESH, old);
        assertEquals(Reason.NO_SERVICE_ACCOUNT_TOKEN, r.report().reason());
        assertTrue(r.patch().isEmpty());
        r = Injector.inject(pod("{\"containers\":[{\"name\":\"a\"}]}"), "pod web-*", "shop", null, MESH, old);
        assertEquals(Reason.NO_TOKEN_PROJECTION, r.report().reason());
        assertTrue(r.report().message().contains("identity.hypha.dev"), r.report().message());
    }

    @Test
    void onACurrentApiServerAutomountFalseIsKeptAndNoted() throws Exception {
        Injector.Result r = Injector.inject(pod("{\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"a\"}]}"),
                "pod web-*", "shop", null, MESH, Capabilities.CURRENT);
        assertEquals(Reason.INJECTED, r.report().reason());
        assertEquals(false, r.pod().at("/spec/automountServiceAccountToken").asBoolean(true));
        assertTrue(r.report().notes().get(0).contains("automountServiceAccountToken: false is kept"));
    }

    @Test
    void aPodWithoutContainersIsRefusedNotInjected() throws Exception {
        Injector.Result r = Injector.inject(pod("{}"), "pod web-*", "shop", null, MESH, Capabilities.CURRENT);
        assertEquals(Reason.INVALID_CONFIG, r.report().reason());
        assertTrue(r.patch().isEmpty());
    }
}
