package dev.hypha.proxy.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Blocking TCP test servers on 127.0.0.1: any per-connection handler, an echo server and a banner server. */
public final class TcpServers {
    private TcpServers() {
    }

    /** What a server does with one accepted connection (closed afterwards). */
    @FunctionalInterface
    public interface Handler {
        void handle(Socket s) throws IOException;
    }

    /** A server on an ephemeral port that runs {@code handler} for each connection on a thread of its own. */
    public static ServerSocket serve(String name, Handler handler) throws IOException {
        ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!ss.isClosed()) {
                try {
                    Socket s = ss.accept();
                    Thread w = new Thread(() -> {
                        try (s) {
                            handler.handle(s);
                        } catch (IOException ignored) {
                            // connection ended
                        }
                    }, name + "-conn");
                    w.setDaemon(true);
                    w.start();
                } catch (IOException e) {
                    return;
                }
            }
        }, name + "-accept");
        t.setDaemon(true);
        t.start();
        return ss;
    }

    /** Echoes every byte; when the client shuts its output down, finishes echoing and shuts its own output down. */
    public static ServerSocket echo() throws IOException {
        return serve("echo", s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
            }
            out.flush();
            s.shutdownOutput();
            // wait for the peer to close
            while (in.read() >= 0) {
                // drain
            }
        });
    }

    /** A server-speaks-first protocol: writes a banner at once, then answers one line with "bye <line>". */
    public static ServerSocket banner(String banner) throws IOException {
        return serve("banner", s -> {
            OutputStream out = s.getOutputStream();
            out.write((banner + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder line = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0 && c != '\n') {
                line.append((char) c);
            }
            out.write(("bye " + line.toString().trim() + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
    }
}
