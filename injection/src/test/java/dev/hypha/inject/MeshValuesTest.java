package dev.hypha.inject;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class MeshValuesTest {

    @Test
    void everyKeyHasADefaultAndARowInTheInstallGuide() throws Exception {
        Properties p = new Properties();
        try (var in = MeshValues.class.getResourceAsStream("/hypha/defaults.properties")) {
            p.load(in);
        }
        var declared = new TreeSet<String>();
        MeshValues.KEYS.forEach(k -> declared.add(k.name()));
        assertEquals(declared, new TreeSet<>(p.stringPropertyNames()), "defaults.properties and MeshValues.KEYS");
        String guide = Files.readString(Path.of("../docs/install.md"));
        MeshValues d = MeshValues.defaults();
        for (MeshValues.Key k : MeshValues.KEYS) {
            String row = guide.lines().filter(l -> l.startsWith("| `" + k.name() + "` |")).findFirst()
                    .orElseThrow(() -> new AssertionError(k.name() + " has no row in docs/install.md"));
            String def = d.get(k.name());
            assertTrue(def.isEmpty() ? row.contains("| none |") : row.contains("`" + def + "`"),
                    k.name() + ": the guide's default differs from " + def + ": " + row);
            assertTrue(row.contains(k.annotation() ? "| yes |" : "| no |"), k.name() + ": annotation column");
        }
        for (MeshValues.Key k : MeshValues.KEYS) {
            assertEquals(null, MeshValues.check(k, d.get(k.name())), "the default of " + k.name() + " is valid");
        }
    }

    @Test
    void precedenceIsInstallThenNamespaceThenPod() throws Exception {
        MeshValues v = MeshValues.defaults().withInstallValues(Map.of("proxy-log-level", "warn"))
                .withAnnotations(Map.of("config.hypha.dev/proxy-log-level", "debug",
                        "config.hypha.dev/opaque-ports", "5432"), "namespace shop")
                .withAnnotations(Map.of("config.hypha.dev/proxy-log-level", "trace", "unrelated/x", "y"), "pod");
        assertEquals("trace", v.get("proxy-log-level"));
        assertEquals("5432", v.get("opaque-ports"));
        assertEquals("2102", v.get("proxy-uid"));
    }

    @Test
    void badValuesAreAllListedWithWhatWouldBeRight() {
        var e = assertThrows(MeshValues.InvalidValuesException.class, () -> MeshValues.defaults()
                .withAnnotations(Map.of("config.hypha.dev/opaque-ports", "70000",
                        "config.hypha.dev/proxy-uid", "0",
                        "config.hypha.dev/skip-outbound-subnets", "10.0.0.0/33",
                        "config.hypha.dev/proxy-memory-limit", "lots"), "pod"));
        assertEquals(4, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("opaque-ports='70000' is not valid: expected ports and ranges"));
        assertTrue(e.getMessage().contains("config.hypha.dev/proxy-uid: not settable per namespace or pod"));
        assertTrue(e.getMessage().contains("skip-outbound-subnets='10.0.0.0/33' is not valid: expected IPv4 CIDRs"));
        assertTrue(e.getMessage().contains("proxy-memory-limit='lots' is not valid: expected a memory quantity"));
        assertThrows(MeshValues.InvalidValuesException.class,
                () -> MeshValues.defaults().withInstallValues(Map.of("control-replicas", "0")));
        assertEquals("25,8000-8100", MeshValues.ports(" 25, 8000-8100"));
        assertEquals(null, MeshValues.ports("100-10"));
    }

    @Test
    void eventLoopsFollowTheCpuRequest() {
        assertEquals(1, Injector.eventLoops("100m"));
        assertEquals(1, Injector.eventLoops("1"));
        assertEquals(2, Injector.eventLoops("1500m"));
        assertEquals(2, Injector.eventLoops("2"));
        assertEquals(1, Injector.eventLoops(""));
    }

    @Test
    void capabilitiesFromTheApiServerVersion() {
        assertEquals(new Capabilities(false, true), Capabilities.forVersion("1", "28"));
        assertEquals(new Capabilities(true, true), Capabilities.forVersion("1", "29+"));
        assertEquals(new Capabilities(false, false), Capabilities.forVersion("1", "19"));
        assertEquals(Capabilities.CURRENT, Capabilities.forVersion("", "x"));
    }
}
