package dev.hypha.proxy.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Lifecycle helpers for the classic-sidecar layout (Kubernetes before native sidecars), run as exec hooks of the
 * proxy container: {@code hypha-proxy await [timeout]} returns when the proxy's {@code /ready} answers 200 (its
 * {@code postStart} hook: the kubelet starts the app containers only after it returns), and
 * {@code hypha-proxy wait-before-exit <duration>} sleeps (its {@code preStop} hook: the app receives SIGTERM first
 * and the proxy outlives it). Plain sockets and no Netty: this runs in a fresh JVM next to the proxy.
 */
public final class Await {
    private Await() {
    }

    /** Returns the process exit code. */
    public static int run(String[] args, String adminAddr) {
        String cmd = args[0];
        try {
            if (cmd.equals("wait-before-exit")) {
                Duration d = parse(args.length > 1 ? args[1] : "5s");
                Thread.sleep(d.toMillis());
                return 0;
            }
            Duration timeout = parse(args.length > 1 ? args[1] : "120s");
            int port = adminPort(adminAddr);
            long deadline = System.nanoTime() + timeout.toNanos();
            String last = "not tried";
            while (System.nanoTime() < deadline) {
                try {
                    int status = get(port, "/ready");
                    if (status == 200) {
                        return 0;
                    }
                    last = "/ready answered " + status;
                } catch (IOException e) {
                    last = "admin port 127.0.0.1:" + port + ": " + e.getMessage();
                }
                Thread.sleep(100);
            }
            System.err.println("hypha-proxy await: the proxy was not ready within " + timeout + " (" + last + ")");
            return 1;
        } catch (IllegalArgumentException e) {
            System.err.println("hypha-proxy " + cmd + ": " + e.getMessage());
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    static int adminPort(String addr) {
        if (addr == null || addr.isBlank()) {
            return 4191;
        }
        int i = addr.lastIndexOf(':');
        try {
            return Integer.parseInt(addr.substring(i + 1).trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("HYPHA_PROXY_ADMIN_LISTEN_ADDR='" + addr + "' has no port");
        }
    }

    static Duration parse(String s) {
        try {
            if (s.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
            }
            if (s.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
            }
            if (s.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new IllegalArgumentException("'" + s + "' is not a duration: expected e.g. 500ms, 5s or 2m");
    }

    private static int get(int port, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(1000);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(12); // "HTTP/1.1 200"
            if (head.length < 12) {
                throw new IOException("short answer");
            }
            return Integer.parseInt(new String(head, 9, 3, StandardCharsets.US_ASCII));
        } catch (NumberFormatException e) {
            throw new IOException("not an HTTP answer");
        }
    }
}
