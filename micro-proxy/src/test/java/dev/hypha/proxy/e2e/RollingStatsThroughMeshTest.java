package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.testing.Http;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A known load through the mesh — 30 answered 200 and 10 answered 503 by the app — must show up exactly in both
 * proxies' rolling statistics ({@code /stats} on the admin port), failures classified as such.
 */
class RollingStatsThroughMeshTest {
    @TempDir
    Path dir;

    @Test
    void bothProxiesCountExactlyWhatCrossedThem() throws Exception {
        try (HttpBackend app = new HttpBackend(); Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options())) {
            String authority = "svc.test:" + app.port();
            for (int i = 0; i < 40; i++) {
                assertEquals(i < 30 ? 200 : 503, get(mesh.outboundPort(), authority, i < 30 ? "/ok" : "/status/503"));
            }
            String out = Http.get("http://127.0.0.1:" + mesh.client.adminAddress().getPort() + "/stats").body();
            String in = Http.get("http://127.0.0.1:" + mesh.server.adminAddress().getPort() + "/stats").body();
            long[] o = counts(out, "outbound");
            long[] n = counts(in, "inbound");
            assertEquals(30, o[0], out);
            assertEquals(10, o[1], out);
            assertEquals(30, n[0], in);
            assertEquals(10, n[1], in);
            assertTrue(out.contains("\"route\": \"[DEFAULT]\""), out);
            assertTrue(out.contains("\"windowSeconds\": 60"), out);
            // the minute and the passed part of the current bucket; the rate is the 40 requests over that span
            Matcher span = Pattern.compile("\"spanSeconds\": ([0-9.]+)").matcher(out);
            assertTrue(span.find(), out);
            double seconds = Double.parseDouble(span.group(1));
            assertTrue(seconds >= 60 && seconds < 70, out);
            Matcher rps = Pattern.compile("\"rps\": ([0-9.]+)").matcher(out);
            assertTrue(rps.find(), out);
            assertEquals(40 / seconds, Double.parseDouble(rps.group(1)), 0.0015, out);
        }
    }

    static long[] counts(String json, String direction) {
        Matcher m = Pattern.compile("\"direction\": \"" + direction + "\"[^}]*\"success\": (\\d+), \"failure\": (\\d+)")
                .matcher(json);
        assertTrue(m.find(), "no " + direction + " series in " + json);
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }

    static int get(int port, String authority, String path) throws Exception {
        return Http.rawGet(port, authority, path);
    }
}
