package dev.hypha.control.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.Resource;
import dev.hypha.api.v1.Series;
import dev.hypha.api.v1.StatsGrpc;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.WorkloadStats;
import dev.hypha.control.identity.IdentityNames;
import dev.hypha.control.identity.IssuerSource;
import dev.hypha.control.identity.IssuerState;
import dev.hypha.control.identity.LeafIssuer;
import dev.hypha.control.identity.Pem;
import dev.hypha.control.identity.TestCa;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.netty.handler.ssl.ClientAuth;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Stats.Get in Kubernetes mode, fanned out for real: pods from the informer cache (a Deployment's pods through
 * their ReplicaSet, a Service's by selector, a StatefulSet's), each meshed pod's tap port called over mTLS with the
 * control plane's own certificate, answers merged per resource; a pod whose proxy proves another identity is not
 * counted as meshed. The "proxy" here is a grpc-java server with a certificate from the same issuer.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@QuarkusTestResource(TestCa.class)
@TestProfile(TapFanOutTest.Profile.class)
class TapFanOutTest {
    static final int TAP_PORT = dev.hypha.testing.FreePorts.outsideEphemeralRange();
    static final String WEB_ID = "web.shop.serviceaccount.identity.cluster.local";
    static final List<String> callers = new CopyOnWriteArrayList<>();
    static final java.util.concurrent.atomic.AtomicInteger spanCalls = new java.util.concurrent.atomic.AtomicInteger();
    static Server proxy;

    public static final class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("hypha.control.mode", "kubernetes", "hypha.control.proxy-tap-port", Integer.toString(TAP_PORT),
                    "hypha.control.stats-timeout", "2s");
        }
    }

    @KubernetesTestServer
    KubernetesServer mockServer;

    @Inject
    KubernetesClient client;

    @GrpcClient("destination")
    io.grpc.Channel channel;

    @AfterAll
    static void stop() throws Exception {
        if (proxy != null) {
            proxy.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** A stand-in proxy: proves web's identity, requires a client certificate, answers one fixed series. */
    static void startProxy() throws Exception {
        Path dir = TestCa.dir;
        IssuerState issuer = IssuerSource.load(dir.resolve("issuer.crt"), dir.resolve("issuer.key"),
                dir.resolve("anchors.crt"), Instant.now());
        var g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        var kp = g.generateKeyPair();
        X509Certificate leaf = LeafIssuer.issue(issuer, WEB_ID, IdentityNames.spiffeId(WEB_ID, "cluster.local"),
                KubernetesModeTest.csr(kp, WEB_ID), Duration.ofHours(1), Duration.ofSeconds(20), Instant.now());
        StringBuilder chain = new StringBuilder(Pem.encode("CERTIFICATE", leaf.getEncoded()));
        for (X509Certificate c : issuer.chain()) {
            chain.append(Pem.encode("CERTIFICATE", c.getEncoded()));
        }
        Path crt = Files.writeString(dir.resolve("proxy.crt"), chain);
        Path key = Files.writeString(dir.resolve("proxy.key"), Pem.encode("PRIVATE KEY", kp.getPrivate().getEncoded()));
        var stats = new StatsGrpc.StatsImplBase() {
            @Override
            public void get(StatsRequest req, StreamObserver<StatsResponse> out) {
                // two answers in a row differ in their span, as proxies answering a moment apart do
                long span = req.getWindowSeconds() * 1000L + (spanCalls.getAndIncrement() % 2 == 0 ? 1000 : 3500);
                out.onNext(StatsResponse.newBuilder().setWindowSeconds(req.getWindowSeconds()).setSpanMillis(span)
                        .addLatencyBoundsMs(1)
                        .addLatencyBoundsMs(2).addWorkloads(WorkloadStats.newBuilder().setPods(1).setMeshedPods(1)
                                .setIdentity(WEB_ID).setTcpOpenConnections(2)
                                .addSeries(Series.newBuilder().setDirection(Direction.INBOUND)
                                        .setAuthority("web.shop.svc.cluster.local:80").setRoute("[DEFAULT]")
                                        .setSuccess(9).setFailure(1).addLatencyBuckets(7).addLatencyBuckets(3)
                                        .addLatencyBuckets(0)))
                        .build());
                out.onCompleted();
            }
        };
        proxy = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", TAP_PORT))
                .sslContext(GrpcSslContexts.forServer(crt.toFile(), key.toFile())
                        .trustManager(dir.resolve("anchors.crt").toFile()).clientAuth(ClientAuth.REQUIRE).build())
                .addService(ServerInterceptors.intercept(stats, new io.grpc.ServerInterceptor() {
                    @Override
                    public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
                            Metadata h, io.grpc.ServerCallHandler<Q, R> next) {
                        SSLSession s = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                        try {
                            X509Certificate c = (X509Certificate) s.getPeerCertificates()[0];
                            for (List<?> san : c.getSubjectAlternativeNames()) {
                                if ((Integer) san.get(0) == 2) {
                                    callers.add((String) san.get(1));
                                }
                            }
                        } catch (Exception e) {
                            callers.add("no certificate: " + e);
                        }
                        return next.startCall(call, h);
                    }
                })).build().start();
    }

    static Pod pod(String name, Map<String, String> labels, String ownerKind, String ownerName, String sa) {
        return new PodBuilder().withNewMetadata().withName(name).withNamespace("shop").addToLabels(labels)
                .addNewOwnerReference().withApiVersion("apps/v1").withKind(ownerKind).withName(ownerName)
                .withUid(ownerName + "-uid").withController(true).endOwnerReference().endMetadata()
                .withNewSpec().withServiceAccountName(sa).addNewContainer().withName("app").withImage("app")
                .endContainer().addNewInitContainer().withName("hypha-proxy").withImage("proxy").withRestartPolicy("Always")
                .endInitContainer().endSpec().withNewStatus().withPhase("Running").withPodIP("127.0.0.1").endStatus()
                .build();
    }

    StatsResponse stats(Resource target) {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer token-of-alice");
        return StatsGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                .get(StatsRequest.newBuilder().setTarget(target).setWindowSeconds(30).build());
    }

    @Test
    void statsAreFannedOutToEveryMeshedPodAndMerged() throws Exception {
        TapAuthorizationTest.expectReviews(mockServer); // alice may
        startProxy();
        for (Pod p : List.of(pod("web-7f9c4-aaaaa", Map.of("app", "web", "pod-template-hash", "7f9c4"), "ReplicaSet",
                "web-7f9c4", "web"), pod("web-7f9c4-bbbbb", Map.of("app", "web", "pod-template-hash", "7f9c4"),
                "ReplicaSet", "web-7f9c4", "web"), pod("db-0", Map.of("app", "db"), "StatefulSet", "db", "db"))) {
            client.pods().inNamespace("shop").resource(p).create();
        }
        client.services().inNamespace("shop").resource(new ServiceBuilder().withNewMetadata().withName("web")
                .withNamespace("shop").endMetadata().withNewSpec().addToSelector("app", "web").addNewPort().withPort(80)
                .endPort().endSpec().build()).create();

        Resource web = Resource.newBuilder().setNamespace("shop").setKind("deployment").setName("web").build();
        long deadline = System.nanoTime() + 15_000_000_000L;
        StatsResponse r;
        while (true) { // the informers catch up with the pods just created
            try {
                r = stats(web);
                if (r.getWorkloads(0).getPods() == 2) {
                    break;
                }
            } catch (io.grpc.StatusRuntimeException e) {
                assertEquals(io.grpc.Status.Code.NOT_FOUND, e.getStatus().getCode(), e.toString());
            }
            assertTrue(System.nanoTime() < deadline, "the deployment's pods never showed");
            Thread.sleep(100);
        }
        WorkloadStats w = r.getWorkloads(0);
        assertEquals(web, w.getResource());
        assertEquals(2, w.getMeshedPods(), "both pods' proxies answered");
        assertEquals(30, r.getWindowSeconds());
        assertEquals(33_500, r.getSpanMillis(), "the longer of the two proxies' spans");
        assertEquals(WEB_ID, w.getIdentity());
        assertEquals(4, w.getTcpOpenConnections());
        Series s = w.getSeries(0);
        assertEquals(18, s.getSuccess(), "summed over the two pods");
        assertEquals(2, s.getFailure());
        assertEquals(List.of(14L, 6L, 0L), s.getLatencyBucketsList());
        assertTrue(!callers.isEmpty() && callers.stream().allMatch(
                c -> c.equals("hypha-control.hypha-system.serviceaccount.identity.cluster.local")),
                "the control plane calls proxies with its own identity: " + callers);

        // a service selects the same pods
        StatsResponse svc = stats(Resource.newBuilder().setNamespace("shop").setKind("service").setName("web").build());
        assertEquals(2, svc.getWorkloads(0).getMeshedPods());
        // every deployment of the namespace, and the statefulset: db's pod is tapped at the same address, but the
        // proxy there proves web's identity, not db's, so db is not counted as meshed
        StatsResponse all = stats(Resource.newBuilder().setNamespace("shop").setKind("deployment").build());
        assertEquals(1, all.getWorkloadsCount());
        StatsResponse db = stats(Resource.newBuilder().setNamespace("shop").setKind("statefulset").setName("db").build());
        assertEquals(1, db.getWorkloads(0).getPods());
        assertEquals(0, db.getWorkloads(0).getMeshedPods(), "a proxy proving another identity is not trusted");
    }
}
