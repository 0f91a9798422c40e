package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.hypha.proxy.testing.Cmd;
import dev.hypha.proxy.testing.HttpBackend;
import dev.hypha.proxy.testing.Mesh;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A draining proxy sends GOAWAY to HTTP/2 clients and still completes the streams they already opened. */
class Http2ShutdownTest {
    @TempDir
    Path dir;

    @Test
    void drainingSendsGoAwayAndFinishesOpenStreams() throws Exception {
        assumeTrue(Cmd.available("nghttp") || Cmd.inCi(), "nghttp is not installed (nghttp2-client)");
        try (HttpBackend app = new HttpBackend()) {
            Mesh mesh = Mesh.start(dir, new int[] {app.port()}, new Mesh.Options());
            try {
                CompletableFuture<Cmd.Result> call = CompletableFuture.supplyAsync(() -> {
                    try {
                        return Cmd.run(30, "nghttp", "-v", "-H", ":authority: svc.test:" + app.port(),
                                "http://127.0.0.1:" + mesh.outboundPort() + "/slow?ms=1500");
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (app.seen.isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertTrue(!app.seen.isEmpty(), "request never reached the app");
                mesh.client.shutdown(); // blocks until drained
                Cmd.Result r = call.get(20, TimeUnit.SECONDS);
                assertEquals(0, r.exit(), r.out() + r.err());
                assertTrue(r.out().contains("recv GOAWAY frame"), r.out());
                assertTrue(r.out().contains(":status: 200"), "the open stream must complete: " + r.out());
            } finally {
                mesh.close();
            }
        }
    }
}
