package dev.hypha.proxy.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import dev.hypha.proxy.testing.Cmd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy's container has a read-only root file system, so Netty cannot unpack its native libraries into a temp
 * directory there. The image ships them unpacked (the build's {@code target/native}) and the proxy loads them from
 * {@code -Djava.library.path}; without them it falls back to NIO and the JDK's TLS, and says so with a warning. The
 * real binary (a child JVM) is started with an unwritable Netty work directory, as in the pod.
 */
class NativeLibrariesTest {
    private static final Path NATIVE = Path.of("target/native/META-INF/native");

    @TempDir
    Path dir;

    @Test
    void unpackedLibrariesLoadWithoutAWritableTempDirectory() throws Exception {
        assertTrue(Files.isRegularFile(NATIVE.resolve("libnetty_tcnative_linux_x86_64.so")),
                "the build unpacks BoringSSL into " + NATIVE.toAbsolutePath());
        String log = startAndLog("-Djava.library.path=" + NATIVE.toAbsolutePath());
        assertTrue(log.contains("(mode explicit, epoll, tls openssl"), log);
        assertTrue(!log.contains("did not load"), log);
    }

    @Test
    void withoutThemTheProxyFallsBackAndSaysWhy() throws Exception {
        String log = startAndLog();
        assertTrue(log.contains("(mode explicit, nio, tls jdk"), log);
        assertTrue(log.contains("the native epoll transport did not load"), log);
        assertTrue(log.contains("BoringSSL did not load"), log);
        assertTrue(log.contains("-Djava.library.path (the proxy image has them in /opt/hypha/native)"), log);
    }

    /** Starts the proxy with Netty's work directory where nothing can be created, returns its log once listening. */
    private String startAndLog(String... jvmFlags) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-Dio.netty.native.workdir=/proc/hypha-unwritable"));
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.hypha.proxy.Main"));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("HYPHA_PROXY_"));
        pb.environment().put("HYPHA_PROXY_MODE", "explicit");
        pb.environment().put("HYPHA_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:0");
        pb.environment().put("HYPHA_PROXY_INBOUND_LISTEN_ADDR", "127.0.0.1:0");
        pb.environment().put("HYPHA_PROXY_ADMIN_LISTEN_ADDR", "127.0.0.1:0");
        pb.environment().put("HYPHA_PROXY_TAP_LISTEN_ADDR", "127.0.0.1:0");
        pb.environment().put("HYPHA_PROXY_SHUTDOWN_GRACE", "1s");
        Path logFile = dir.resolve("proxy.log");
        pb.redirectErrorStream(true).redirectOutput(logFile.toFile());
        Process p = pb.start();
        try {
            return Cmd.awaitLog(logFile, "hypha-proxy listening", p);
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
