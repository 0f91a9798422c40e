package dev.hypha.injector;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Every {@code hypha.injector.*} key has a row in the module README. */
class ReadmeTest {
    @Test
    void everyConfigKeyIsDocumented() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        for (Method m : InjectorConfig.class.getDeclaredMethods()) {
            String key = "hypha.injector." + m.getName().replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase();
            assertTrue(readme.contains("| `" + key + "` |"), key + " is missing from injector-webhook/README.md");
        }
    }
}
