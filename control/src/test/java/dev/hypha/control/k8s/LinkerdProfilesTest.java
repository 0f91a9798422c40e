package dev.hypha.control.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.control.Streams;
import dev.hypha.control.identity.TestCa;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** With {@code hypha.control.linkerd-profiles=true}, Linkerd's ServiceProfiles are read; a Hypha one wins. */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@QuarkusTestResource(TestCa.class)
@TestProfile(LinkerdProfilesTest.WithLinkerd.class)
class LinkerdProfilesTest {
    public static final class WithLinkerd implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("hypha.control.mode", "kubernetes", "hypha.control.linkerd-profiles", "true");
        }
    }

    @Inject
    KubernetesClient client;

    @GrpcClient("destination")
    io.grpc.Channel channel;

    static Map<String, Object> spec(String routeName) {
        return Map.of("routes", List.of(Map.of("name", routeName, "condition", Map.of("method", "GET"))));
    }

    @Test
    void aLinkerdProfileIsUsedUntilAHyphaOneExists() throws Exception {
        client.services().inNamespace("emoji").resource(new ServiceBuilder().withNewMetadata().withName("web")
                .withNamespace("emoji").endMetadata().withNewSpec().withClusterIP("10.96.1.1").addNewPort().withName("http")
                .withPort(80).withTargetPort(new IntOrString(8080)).endPort().endSpec().build()).create();
        BlockingQueue<DestinationProfile> q = Streams.profile(channel, "web.emoji.svc.cluster.local:80").items();
        client.genericKubernetesResources(KubernetesSource.LINKERD_PROFILES).inNamespace("emoji").resource(
                new GenericKubernetesResourceBuilder().withApiVersion("linkerd.io/v1alpha2").withKind("ServiceProfile")
                        .withNewMetadata().withName("web.emoji.svc.cluster.local").withNamespace("emoji").endMetadata()
                        .withAdditionalProperties(Map.of("spec", spec("from linkerd"))).build()).create();
        assertEquals("from linkerd", awaitRoute(q));
        client.genericKubernetesResources(KubernetesSource.PROFILES).inNamespace("emoji").resource(
                new GenericKubernetesResourceBuilder().withApiVersion("hypha.dev/v1alpha1").withKind("ServiceProfile")
                        .withNewMetadata().withName("web.emoji.svc.cluster.local").withNamespace("emoji").endMetadata()
                        .withAdditionalProperties(Map.of("spec", spec("from hypha"))).build()).create();
        assertEquals("from hypha", awaitRoute(q));
    }

    private static String awaitRoute(BlockingQueue<DestinationProfile> q) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String last = null;
        while (System.nanoTime() < deadline) {
            DestinationProfile p = q.poll(200, TimeUnit.MILLISECONDS);
            if (p != null && p.getRoutesCount() > 0) {
                last = p.getRoutes(0).getName();
                if (q.isEmpty()) {
                    return last;
                }
            }
        }
        assertNotNull(last, "no profile with routes arrived");
        return last;
    }
}
