package dev.hypha.control.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.Resource;
import dev.hypha.api.v1.StatsGrpc;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.TapGrpc;
import dev.hypha.control.identity.TestCa;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Who may tap and read stats in Kubernetes mode: the caller's bearer token goes to a TokenReview, then a
 * SubjectAccessReview of verb tap (Observe) or get (Stats.Get) on the target's resource in API group
 * tap.hypha.dev decides. Refused callers get UNAUTHENTICATED or PERMISSION_DENIED with a message; allowed ones
 * get past to the resource lookup.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@QuarkusTestResource(TestCa.class)
@TestProfile(KubernetesModeTest.KubernetesMode.class)
class TapAuthorizationTest {
    @KubernetesTestServer
    KubernetesServer mockServer;

    @Inject
    KubernetesClient client;

    @GrpcClient("destination")
    io.grpc.Channel channel;

    static final List<String> reviews = new CopyOnWriteArrayList<>();

    @BeforeEach
    void expectations() {
        expectReviews(mockServer);
    }

    /**
     * The API server's answers: TokenReview authenticates token-of-alice and token-of-bob (group devs); the
     * SubjectAccessReview allows alice only, and every review's body is kept in {@link #reviews}.
     */
    static void expectReviews(KubernetesServer mockServer) {
        mockServer.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews").andReply(201, req -> {
            String body = req.getBody().readUtf8();
            String user = body.contains("\"token-of-alice\"") ? "alice" : body.contains("\"token-of-bob\"") ? "bob" : null;
            return Map.of("apiVersion", "authentication.k8s.io/v1", "kind", "TokenReview", "status", user == null
                    ? Map.of("authenticated", false, "error", "invalid bearer token")
                    : Map.of("authenticated", true, "user", Map.of("username", user, "groups", List.of("devs"))));
        }).always();
        mockServer.expect().post().withPath("/apis/authorization.k8s.io/v1/subjectaccessreviews").andReply(201, req -> {
            String body = req.getBody().readUtf8();
            reviews.add(body);
            boolean alice = body.contains("\"user\":\"alice\"");
            return Map.of("apiVersion", "authorization.k8s.io/v1", "kind", "SubjectAccessReview",
                    "status", alice ? Map.of("allowed", true) : Map.of("allowed", false, "reason", "no RBAC rule"));
        }).always();
    }

    StatsGrpc.StatsBlockingStub stats(String token) {
        var s = StatsGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        if (token == null) {
            return s;
        }
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    static final Resource WEB = Resource.newBuilder().setNamespace("shop").setKind("deployment").setName("web").build();

    @Test
    void aCallerWithoutATokenOrWithABadOneIsUnauthenticated() {
        StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
                () -> stats(null).get(StatsRequest.newBuilder().setTarget(WEB).build()));
        assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
        assertTrue(none.getStatus().getDescription().contains("no bearer token"), none.getStatus().getDescription());
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class,
                () -> stats("stolen").get(StatsRequest.newBuilder().setTarget(WEB).build()));
        assertEquals(Status.Code.UNAUTHENTICATED, bad.getStatus().getCode());
        assertTrue(bad.getStatus().getDescription().contains("invalid bearer token"));
    }

    @Test
    void rbacDecides() {
        reviews.clear();
        StatusRuntimeException denied = assertThrows(StatusRuntimeException.class,
                () -> stats("token-of-bob").get(StatsRequest.newBuilder().setTarget(WEB).build()));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
        String msg = denied.getStatus().getDescription();
        assertTrue(msg.contains("user bob may not get deployments web in namespace shop (no RBAC rule)"), msg);
        assertTrue(msg.contains("tap.hypha.dev") && msg.contains("hypha-viewer"), msg);
        String review = reviews.get(reviews.size() - 1);
        assertTrue(review.contains("\"group\":\"tap.hypha.dev\"") && review.contains("\"resource\":\"deployments\"")
                && review.contains("\"verb\":\"get\"") && review.contains("\"namespace\":\"shop\"")
                && review.contains("\"name\":\"web\"") && review.contains("\"groups\":[\"devs\"]"), review);

        // alice may: the call gets past authorization to the lookup, which finds no such deployment
        StatusRuntimeException missing = assertThrows(StatusRuntimeException.class,
                () -> stats("token-of-alice").get(StatsRequest.newBuilder().setTarget(WEB).build()));
        assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());
        assertTrue(missing.getStatus().getDescription().contains("deployment web not found in namespace shop"));

        // tap asks for verb tap; a deployment whose pods run no proxy is FAILED_PRECONDITION, not an empty stream
        client.pods().inNamespace("shop").resource(new PodBuilder().withNewMetadata().withName("web-5d9c7-x2x")
                .withNamespace("shop").addToLabels("pod-template-hash", "5d9c7").addNewOwnerReference()
                .withApiVersion("apps/v1").withKind("ReplicaSet").withName("web-5d9c7").withUid("u1")
                .withController(true).endOwnerReference().endMetadata().withNewSpec().addNewContainer().withName("app")
                .withImage("app").endContainer().endSpec().withNewStatus().withPhase("Running").withPodIP("10.1.2.3")
                .endStatus().build()).create();
        long deadline = System.nanoTime() + 10_000_000_000L;
        StatusRuntimeException unmeshed;
        do {
            Metadata md = new Metadata();
            md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer token-of-alice");
            var it = TapGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                    .observe(ObserveRequest.newBuilder().setTarget(WEB).build());
            unmeshed = assertThrows(StatusRuntimeException.class, it::hasNext);
        } while (unmeshed.getStatus().getCode() == Status.Code.NOT_FOUND && System.nanoTime() < deadline);
        assertEquals(Status.Code.FAILED_PRECONDITION, unmeshed.getStatus().getCode(), unmeshed.toString());
        assertTrue(unmeshed.getStatus().getDescription().contains("is not meshed"), unmeshed.getStatus().getDescription());
        assertTrue(reviews.get(reviews.size() - 1).contains("\"verb\":\"tap\""), reviews.get(reviews.size() - 1));
    }
}
