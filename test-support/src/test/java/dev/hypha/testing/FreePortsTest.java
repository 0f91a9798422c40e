package dev.hypha.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class FreePortsTest {
    @Test
    void portsAreDistinctAndJustBelowTheEphemeralRange() throws Exception {
        Path range = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        int low = Files.exists(range)
                ? Integer.parseInt(Files.readAllLines(range).get(0).trim().split("\\s+")[0]) : 32768;
        assertEquals(low, FreePorts.ephemeralLow());
        int[] ports = FreePorts.distinct(20);
        assertEquals(20, Arrays.stream(ports).distinct().count(), Arrays.toString(ports));
        for (int p : ports) {
            assertTrue(p < Math.max(low, 2048) && p >= Math.max(1024, Math.max(low, 2048) - 12_000),
                    p + " outside the 12 000 ports below " + low);
        }
    }
}
