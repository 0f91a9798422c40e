package dev.hypha.proxy.init;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class IptablesRulesTest {
    static List<String> lines(IptablesRules r) {
        return r.commands().stream().map(c -> String.join(" ", c)).toList();
    }

    @Test
    void defaultsRedirectBothWaysAndSkipTheProxyItself() {
        List<String> l = lines(IptablesRules.defaults());
        assertTrue(l.contains("-t nat -A HYPHA_INBOUND -p tcp --dport 4190 -j RETURN -m comment --comment hypha: skip inbound port"), l.toString());
        assertTrue(l.contains("-t nat -A HYPHA_INBOUND -p tcp --dport 4191 -j RETURN -m comment --comment hypha: skip inbound port"));
        assertTrue(l.contains("-t nat -A HYPHA_INBOUND -p tcp -j REDIRECT --to-ports 4143 -m comment --comment hypha: to inbound proxy"));
        assertTrue(l.contains("-t nat -A HYPHA_OUTBOUND -m owner --uid-owner 2102 -j RETURN -m comment --comment hypha: the proxy's own traffic"));
        assertTrue(l.contains("-t nat -A HYPHA_OUTBOUND -o lo -j RETURN -m comment --comment hypha: loopback"));
        assertEquals("-t nat -A OUTPUT -j HYPHA_OUTBOUND", l.get(l.size() - 1));
        // the catch-all redirect comes after every RETURN
        int redirect = l.indexOf("-t nat -A HYPHA_OUTBOUND -p tcp -j REDIRECT --to-ports 4140 -m comment --comment hypha: to outbound proxy");
        assertTrue(redirect > l.indexOf("-t nat -A HYPHA_OUTBOUND -o lo -j RETURN -m comment --comment hypha: loopback"));
    }

    @Test
    void skipsAreHonoured() {
        IptablesRules r = InitMain.fromEnv(Map.of("HYPHA_INIT_SKIP_INBOUND_PORTS", "22",
                "HYPHA_INIT_SKIP_OUTBOUND_PORTS", "5432,443", "HYPHA_INIT_SKIP_OUTBOUND_SUBNETS", "10.96.0.0/12"));
        List<String> l = lines(r);
        assertTrue(l.stream().anyMatch(s -> s.startsWith("-t nat -A HYPHA_INBOUND -p tcp --dport 22 -j RETURN")));
        assertTrue(l.stream().anyMatch(s -> s.startsWith("-t nat -A HYPHA_OUTBOUND -p tcp --dport 443 -j RETURN")));
        assertTrue(l.stream().anyMatch(s -> s.startsWith("-t nat -A HYPHA_OUTBOUND -d 10.96.0.0/12 -j RETURN")));
        assertEquals(Set.of(4190, 4191), r.proxyPorts());
    }

    @Test
    void badSettingsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> InitMain.fromEnv(Map.of("HYPHA_INIT_SKIP_OUTBOUND_SUBNETS", "10.0.0.0")));
        assertTrue(e.getMessage().contains("HYPHA_INIT_SKIP_OUTBOUND_SUBNETS='10.0.0.0' is not valid"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> InitMain.fromEnv(Map.of("HYPHA_INIT_INBOUND_PORT", "x")));
        assertTrue(e.getMessage().contains("HYPHA_INIT_INBOUND_PORT='x'"), e.getMessage());
    }
}
