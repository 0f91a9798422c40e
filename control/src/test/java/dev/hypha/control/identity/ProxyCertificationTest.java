package dev.hypha.control.identity;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quarkus.grpc.runtime.GrpcServer;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The contract end to end: the real hypha-proxy binary (built by the micro-proxy module) certifies itself against
 * this control plane with a join token, becomes ready, and shows the identity it was given.
 */
@QuarkusTest
@QuarkusTestResource(TestCa.class)
class ProxyCertificationTest {
    static final String ID = "api.demo.serviceaccount.identity.cluster.local";

    @Inject
    GrpcServer grpcServer;

    @Test
    void theRealProxyGetsItsCertificateFromThisControlPlane() throws Exception {
        Path jar = Path.of("..", "micro-proxy", "target", "hypha-proxy.jar").toAbsolutePath().normalize();
        assumeTrue(Files.exists(jar) || "true".equals(System.getenv("CI")),
                "build micro-proxy first (./mvnw -pl micro-proxy package)");
        assertTrue(Files.exists(jar), "missing " + jar);
        String token = given().queryParam("identity", ID).queryParam("ttl", "1h").when().post("/join-tokens")
                .then().statusCode(200).extract().asString().trim();
        Path dir = Files.createTempDirectory("proxy-cert");
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, token);
        int admin = dev.hypha.testing.FreePorts.outsideEphemeralRange();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-jar", jar.toString());
        pb.environment().keySet().removeIf(k -> k.startsWith("HYPHA_"));
        pb.environment().put("HYPHA_PROXY_MODE", "explicit");
        pb.environment().put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:0");
        pb.environment().put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:0");
        pb.environment().put("HYPHA_PROXY_ADMIN_LISTEN_ADDR", "127.0.0.1:" + admin);
        pb.environment().put("HYPHA_PROXY_IDENTITY_ADDR", "127.0.0.1:" + grpcServer.getPort());
        pb.environment().put("HYPHA_PROXY_IDENTITY_NAME", ID);
        pb.environment().put("HYPHA_PROXY_IDENTITY_TOKEN_FILE", tokenFile.toString());
        pb.environment().put("HYPHA_PROXY_TRUST_ANCHORS_FILE", TestCa.dir.resolve("anchors.crt").toString());
        pb.environment().put("HYPHA_PROXY_SHUTDOWN_GRACE", "1s");
        pb.environment().put("HYPHA_PROXY_CONTROL_PLAINTEXT", "true"); // in-JVM test profile: plain gRPC port
        pb.redirectErrorStream(true).redirectOutput(dir.resolve("proxy.log").toFile());
        Process p = pb.start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            int status = 0;
            while (System.nanoTime() < deadline && status != 200) {
                try {
                    status = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/ready"))
                            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
                } catch (java.io.IOException e) {
                    status = 0;
                }
                if (status != 200) {
                    Thread.sleep(50);
                }
            }
            assertEquals(200, status, "proxy never became ready: " + Files.readString(dir.resolve("proxy.log")));
            String config = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/config")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(config.contains("\"identity\": \"" + ID + "\""), config);
            assertTrue(Files.readString(dir.resolve("proxy.log")).contains("certified as " + ID));
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }
}
