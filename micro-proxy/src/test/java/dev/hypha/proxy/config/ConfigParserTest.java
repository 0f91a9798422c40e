package dev.hypha.proxy.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ConfigParserTest {
    @Test
    void defaultsMatchTheDocumentedPorts() {
        ProxyConfig c = ConfigParser.parse(Map.of());
        assertEquals(new HostPort("127.0.0.1", 4140), c.outboundListen());
        assertEquals(new HostPort("0.0.0.0", 4143), c.inboundListen());
        assertEquals(new HostPort("0.0.0.0", 4191), c.adminListen());
        assertEquals(Set.of(25, 587, 3306, 4444, 5432, 6379, 9300, 11211), c.opaquePorts());
        assertEquals(Duration.ofSeconds(1), c.detectTimeout());
        assertEquals(ProxyConfig.Mode.TRANSPARENT, c.mode());
        assertEquals(InboundPolicy.ALL_UNAUTHENTICATED, c.inboundPolicy());
    }

    @Test
    void valuesAreParsed() {
        ProxyConfig c = ConfigParser.parse(Map.of(
                "HYPHA_PROXY_MODE", "explicit",
                "HYPHA_PROXY_OPAQUE_PORTS", "1000-1002, 25",
                "HYPHA_PROXY_DETECT_TIMEOUT", "250ms",
                "HYPHA_PROXY_DESTINATIONS", "web.shop.svc.cluster.local:80=10.0.0.7:80@web.shop.serviceaccount.identity.cluster.local, db:5432=10.0.0.9:5432"));
        assertEquals(ProxyConfig.Mode.EXPLICIT, c.mode());
        assertEquals(Set.of(25, 1000, 1001, 1002), c.opaquePorts());
        assertEquals(Duration.ofMillis(250), c.detectTimeout());
        assertEquals("web.shop.serviceaccount.identity.cluster.local",
                c.destination("web.shop.svc.cluster.local:80").identity());
        assertTrue(!c.destination("db:5432").meshed());
    }

    @Test
    void badValuesNameTheKeyTheValueAndWhatIsAllowed() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(Map.of(
                "HYPHA_PROXY_MODE", "magic",
                "HYPHA_PROXY_OPAQUE_PORTS", "25,99999",
                "HYPHA_PROXY_DETECT_TIMEOUT", "soon",
                "HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "4140",
                "HYPHA_PROXY_EVENT_LOOP_THREADS", "0",
                "HYPHA_PROXY_TYPO", "1")));
        String m = e.getMessage();
        assertTrue(m.contains("HYPHA_PROXY_MODE='magic' is not valid: expected one of transparent, explicit"), m);
        assertTrue(m.contains("HYPHA_PROXY_OPAQUE_PORTS='25,99999'") && m.contains("'99999' is not a port"), m);
        assertTrue(m.contains("HYPHA_PROXY_DETECT_TIMEOUT='soon'") && m.contains("such as 500ms"), m);
        assertTrue(m.contains("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR='4140'") && m.contains("expected host:port"), m);
        assertTrue(m.contains("HYPHA_PROXY_EVENT_LOOP_THREADS='0'") && m.contains("from 1 to 64"), m);
        assertTrue(m.contains("HYPHA_PROXY_TYPO is not a known setting"), m);
    }

    @Test
    void identityFilesGoTogether() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(Map.of(
                "HYPHA_PROXY_IDENTITY_CERT_FILE", "/nonexistent/cert.pem")));
        assertTrue(e.getMessage().contains("expected a readable PEM file"), e.getMessage());
        assertTrue(e.getMessage().contains("must be set together"), e.getMessage());
    }

    @Test
    void everyKeyIsDocumented() throws Exception {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("README.md"));
        for (String k : ConfigParser.KEYS) {
            assertTrue(readme.contains("`" + k + "`"), "micro-proxy/README.md does not document " + k);
        }
    }

    @Test
    void trustAnchorsInlineAsTheInjectorDeliversThem(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        var pki = new dev.hypha.proxy.testing.TestPki("inline anchors test");
        var id = pki.issue("web.shop.serviceaccount.identity.cluster.local", dir);
        String pem = java.nio.file.Files.readString(id.anchors());
        ProxyConfig c = ConfigParser.parse(Map.of(
                "HYPHA_PROXY_IDENTITY_ADDR", "127.0.0.1:8086",
                "HYPHA_PROXY_IDENTITY_NAME", "web.shop.serviceaccount.identity.cluster.local",
                "HYPHA_PROXY_IDENTITY_TOKEN_FILE", "/var/run/secrets/hypha.dev/serviceaccount/token",
                "HYPHA_PROXY_TRUST_ANCHORS", pem));
        assertTrue(c.hasTrustAnchors());
        assertEquals(pem.trim(), new String(c.trustAnchorsBytes(), java.nio.charset.StandardCharsets.US_ASCII));

        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(Map.of(
                "HYPHA_PROXY_TRUST_ANCHORS", "not a certificate",
                "HYPHA_PROXY_TRUST_ANCHORS_FILE", id.anchors().toString())));
        assertTrue(e.getMessage().contains("HYPHA_PROXY_TRUST_ANCHORS is not valid: expected one or more PEM "
                + "certificates"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> ConfigParser.parse(Map.of(
                "HYPHA_PROXY_TRUST_ANCHORS", pem,
                "HYPHA_PROXY_TRUST_ANCHORS_FILE", id.anchors().toString())));
        assertTrue(e.getMessage().contains("exclude each other"), e.getMessage());
    }
}
