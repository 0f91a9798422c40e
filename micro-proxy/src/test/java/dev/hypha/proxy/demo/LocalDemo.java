package dev.hypha.proxy.demo;

import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code ./hypha demo} until the CLI and control plane exist: an app behind proxy B, a client behind proxy A, a
 * CA made on the spot, and requests from A to B over mTLS; prints what the app saw and the proxies' metrics.
 */
public final class LocalDemo {
    private LocalDemo() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("hypha-demo");
        try (HttpBackend app = new HttpBackend();
                Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options())) {
            String svc = "svc.test:" + app.port();
            System.out.println("hypha demo: app on 127.0.0.1:" + app.port() + ", proxy B (" + Mesh.ID_B + ") inbound "
                    + mesh.server.inboundAddress() + ", proxy A (" + Mesh.ID_A + ") outbound "
                    + mesh.client.outboundAddress());
            System.out.println("sending 10 requests: client -> A (outbound) -> mTLS -> B (inbound) -> app\n");
            for (int i = 0; i < 10; i++) {
                String r = request(mesh.outboundPort(), "GET /demo/" + i + " HTTP/1.1\r\nHost: " + svc
                        + "\r\nConnection: close\r\n\r\n");
                String status = r.substring(0, r.indexOf("\r\n"));
                String who = r.lines().filter(l -> l.startsWith("x-echo-client-id")).findFirst().orElse("");
                System.out.println("  /demo/" + i + "  " + status + "   app saw " + who);
            }
            System.out.println("\nproxy B inbound metrics (excerpt):");
            mesh.metrics(mesh.server).lines().filter(l -> l.startsWith("hypha_http_responses_total")
                    || l.startsWith("hypha_tcp_open_connections")).forEach(l -> System.out.println("  " + l));
            System.out.println("\nproxy A outbound metrics (excerpt):");
            mesh.metrics(mesh.client).lines().filter(l -> l.startsWith("hypha_http_responses_total"))
                    .forEach(l -> System.out.println("  " + l));
            if (args.length > 0 && args[0].equals("--wait")) {
                System.out.println("\nrunning; try: curl --connect-to " + svc + ":127.0.0.1:" + mesh.outboundPort()
                        + " http://" + svc + "/hello   (Ctrl-C to stop)");
                Thread.currentThread().join();
            }
        }
    }

    private static String request(int port, String raw) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.getOutputStream().write(raw.getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
