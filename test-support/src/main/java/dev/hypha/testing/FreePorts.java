package dev.hypha.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for a test (or the demo) that must name a port before whatever listens on it starts: a config value, an
 * environment variable, a command line.
 *
 * <p>A port the kernel hands out as free ({@code new ServerSocket(0)}) comes from its ephemeral range, and until the
 * process it is meant for binds it, anything else may be given the same port: a listener bound to port 0 (an app in
 * the test), or the local end of an outgoing connection (the control plane, a proxy, the mock API server). The later
 * bind then fails with "Address already in use", and what fails depends on timing. These ports are picked below the
 * ephemeral range, which the kernel hands to neither, and checked free on loopback; the ports of one call are
 * distinct.
 */
public final class FreePorts {
    private static final int TRIES = 500;

    private FreePorts() {
    }

    /** A loopback port that is free now and outside the kernel's ephemeral range. */
    public static int outsideEphemeralRange() {
        return distinct(1)[0];
    }

    /**
     * {@code n} distinct loopback ports, free now and outside the kernel's ephemeral range; all are held while the
     * others are looked for, so that no two are the same.
     */
    public static int[] distinct(int n) {
        int low = Math.max(ephemeralLow(), 2048);
        int from = Math.max(1024, low - 12_000);
        ServerSocket[] held = new ServerSocket[n];
        int[] ports = new int[n];
        int found = 0;
        try {
            for (int tries = 0; found < n && tries < TRIES; tries++) {
                int port = ThreadLocalRandom.current().nextInt(from, low);
                ServerSocket s = new ServerSocket();
                try {
                    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                    held[found] = s;
                    ports[found++] = port;
                } catch (IOException inUse) {
                    s.close(); // taken (or held by this call already): try another
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not open a socket to probe for free ports: " + e.getMessage(), e);
        } finally {
            for (ServerSocket s : held) {
                if (s != null) {
                    try {
                        s.close();
                    } catch (IOException ignored) {
                        // closing a probe; nothing to lose
                    }
                }
            }
        }
        if (found < n) {
            throw new IllegalStateException("found only " + found + " of " + n + " free loopback ports in " + from
                    + "-" + (low - 1) + " after " + TRIES + " tries");
        }
        return ports;
    }

    /**
     * The first port of the kernel's ephemeral range (Linux; 32768, its default, where it cannot be read). Read by
     * line: {@code Files.readString} returns only the first byte of this proc file on JDK 25 (it reports size 0),
     * which made the range 1024-2047.
     */
    static int ephemeralLow() {
        try {
            String range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }
}
