package dev.hypha.proxy.testing;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Small helpers around the JDK HTTP client for admin endpoints. */
public final class Http {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private Http() {
    }

    public static HttpResponse<String> get(String url) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public static HttpResponse<String> send(String method, String url, String body) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** One HTTP/1.1 request with Connection: close to {@code port} naming {@code authority}; returns the status. */
    public static int rawGet(int port, String authority, String path) throws Exception {
        return Integer.parseInt(rawGetText(port, authority, path).substring(9, 12));
    }

    /** One HTTP/1.1 request with Connection: close to {@code port} naming {@code authority}; the whole response. */
    public static String rawGetText(int port, String authority, String path) throws Exception {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + authority
                    + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }

    /** For a hand-written server: reads past one request head (to its blank line); false at the end of the stream. */
    public static boolean skipHead(java.io.InputStream in) throws java.io.IOException {
        int state = 0;
        int c;
        while ((c = in.read()) >= 0) {
            state = (c == '\r' && (state == 0 || state == 2)) ? state + 1
                    : (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) {
                return true;
            }
        }
        return false;
    }
}
