package dev.hypha.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The packaged injector starts from its jar, serves the certificate it wrote into the caBundle, and injects. */
class InjectorProcessTest {
    @Test
    void thePackagedInjectorInjectsAndStopsCleanly() throws Exception {
        Path dir = Files.createTempDirectory("injector-e2e");
        try (InjectorProcess inj = new InjectorProcess(dir)) {
            JsonNode r = inj.post(InjectorProcess.review());
            assertEquals("JSONPatch", r.at("/response/patchType").asText(), r.toString());
            String patch = new String(Base64.getDecoder().decode(r.at("/response/patch").asText()));
            assertTrue(patch.contains("\"name\":\"hypha-proxy\""), patch);
            assertTrue(patch.contains("\"restartPolicy\":\"Always\""), "a native sidecar on 1.33: " + patch);
            String metrics = Procs.body("http://127.0.0.1:" + inj.admin + "/q/metrics");
            assertTrue(metrics.contains("hypha_injector_admissions_total{reason=\"injected\",result=\"injected\"} 1.0"),
                    metrics);
            inj.process.destroy();
            assertTrue(inj.process.waitFor(20, TimeUnit.SECONDS), "the injector stops on SIGTERM");
        }
    }
}
