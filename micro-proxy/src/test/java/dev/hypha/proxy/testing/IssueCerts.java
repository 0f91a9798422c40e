package dev.hypha.proxy.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code IssueCerts <dir> <identity>...}: a fresh test root and one leaf per identity, for benchmarks and demos. */
public final class IssueCerts {
    private IssueCerts() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        TestPki pki = new TestPki("hypha bench root");
        for (int i = 1; i < args.length; i++) {
            TestPki.Identity id = pki.issue(args[i], dir);
            String base = args[i].split("\\.")[0];
            Files.move(id.cert(), dir.resolve(base + ".crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.move(id.key(), dir.resolve(base + ".key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.move(id.anchors(), dir.resolve("anchors.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
