package dev.hypha.control;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for tests that must name a port before whatever listens on it starts (a config value, a command line).
 * A port the kernel hands out as free ({@code new ServerSocket(0)}) comes from the ephemeral range, and any
 * connection opened in the meantime (the application starting, the mock API server) may be given it as its local
 * port: the later bind then fails ("Address already in use"). These ports are picked below the ephemeral range,
 * which the kernel never hands to outgoing connections, and checked free on loopback.
 */
public final class TestPorts {
    private TestPorts() {
    }

    /** A loopback port that is free now and outside the kernel's ephemeral range. */
    public static int outsideEphemeralRange() {
        int low = Math.max(ephemeralLow(), 2048);
        int from = Math.max(1024, low - 12_000);
        for (int tries = 0; tries < 200; tries++) {
            int port = ThreadLocalRandom.current().nextInt(from, low);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                return port;
            } catch (IOException inUse) {
                // taken: try another
            }
        }
        throw new IllegalStateException("no free loopback port in " + from + "-" + (low - 1) + " after 200 tries");
    }

    /** The first port of the kernel's ephemeral range (Linux; 32768, its default, where it cannot be read). */
    private static int ephemeralLow() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }
}
