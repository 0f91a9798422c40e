package dev.hypha.control.k8s;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.hypha.api.v1.CertifyRequest;
import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.IdentityGrpc;
import dev.hypha.api.v1.Update;
import dev.hypha.control.Streams;
import dev.hypha.control.identity.TestCa;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;

/** Kubernetes mode against the fabric8 mock API server in CRUD mode: informers → Destination, TokenReview → Certify. */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@QuarkusTestResource(TestCa.class)
@TestProfile(KubernetesModeTest.KubernetesMode.class)
class KubernetesModeTest {
    public static final class KubernetesMode implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("hypha.control.mode", "kubernetes");
        }
    }

    static final String NS = "shop";
    static final String WEB_ID = "web.shop.serviceaccount.identity.cluster.local";

    @Inject
    KubernetesClient client;

    @Inject
    KubernetesSource source;

    @KubernetesTestServer
    KubernetesServer mockServer;

    @GrpcClient("destination")
    io.grpc.Channel channel;

    @GrpcClient("identity")
    IdentityGrpc.IdentityBlockingStub identity;

    static Pod pod(String name, String ip, boolean meshed) {
        var b = new PodBuilder().withNewMetadata().withName(name).withNamespace(NS)
                .addNewOwnerReference().withKind("ReplicaSet").withName("web-5d9f").withApiVersion("apps/v1")
                .withUid("u1").endOwnerReference().endMetadata()
                .withNewSpec().withServiceAccountName("web")
                .addToContainers(new ContainerBuilder().withName("app").withImage("web").build());
        Pod pod = b.endSpec().withNewStatus().withPodIP(ip).endStatus().build();
        if (meshed) {
            pod.getSpec().setInitContainers(List.of(new ContainerBuilder().withName("hypha-proxy").withImage("hypha")
                    .withRestartPolicy("Always").build()));
        }
        return pod;
    }

    static EndpointSlice slice(String... podAndIp) {
        var b = new EndpointSliceBuilder().withNewMetadata().withName("web-abc").withNamespace(NS)
                .addToLabels("kubernetes.io/service-name", "web").endMetadata().withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
        for (int i = 0; i < podAndIp.length; i += 2) {
            boolean ready = !podAndIp[i].endsWith("-notready");
            String podName = podAndIp[i].replace("-notready", "");
            b.addToEndpoints(new EndpointBuilder().withAddresses(podAndIp[i + 1]).withNewConditions().withReady(ready)
                    .endConditions().withNewTargetRef().withKind("Pod").withName(podName).withNamespace(NS).endTargetRef()
                    .withZone("zone-a").build());
        }
        return b.build();
    }

    Streams<Update> watch(String target) {
        return Streams.get(channel, target);
    }

    static Update next(Streams<Update> q) throws Exception {
        return q.next();
    }

    @Test
    void servicesEndpointSlicesAndPodsBecomeDestinationUpdates() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (given().get("/ready").statusCode() != 200 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(200, given().get("/ready").statusCode(), "ready only after the informer caches synced");

        String target = "web.shop.svc.cluster.local:80";
        Streams<Update> q = watch(target);
        Update first = next(q);
        assertTrue(first.hasNoEndpoints() && !first.getNoEndpoints().getExists(), first.toString());

        client.pods().inNamespace(NS).resource(pod("web-0", "10.1.0.5", false)).create();
        client.services().inNamespace(NS).resource(new ServiceBuilder().withNewMetadata().withName("web")
                .withNamespace(NS).endMetadata().withNewSpec().withClusterIP("10.96.0.10").addNewPort().withName("http")
                .withPort(80).withTargetPort(new IntOrString("http")).endPort().endSpec().build()).create();
        Update u = next(q);
        assertTrue(u.hasNoEndpoints() && u.getNoEndpoints().getExists(), "the service exists now, without endpoints: " + u);
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web-0", "10.1.0.5")).create();
        u = next(q);
        assertTrue(u.hasAdd(), u.toString());
        var a = u.getAdd().getAddrs(0);
        assertEquals(8080, a.getAddr().getPort(), "the named target port resolves through the slice");
        assertFalse(a.hasTlsIdentity(), "a pod without a proxy has no identity");
        assertEquals("web-0", a.getMetricLabelsMap().get("pod"));
        assertEquals("zone-a", a.getMetricLabelsMap().get("zone"));
        assertEquals("replicaset", a.getMetricLabelsMap().get("owner_kind"));
        assertEquals("web", a.getMetricLabelsMap().get("serviceaccount"));

        // the pod gets its proxy: the endpoint's identity changes
        client.pods().inNamespace(NS).withName("web-0").delete();
        client.pods().inNamespace(NS).resource(pod("web-0", "10.1.0.5", true)).create();
        Update meshed = next(q);
        while (!meshed.hasAdd() || !meshed.getAdd().getAddrs(0).hasTlsIdentity()) {
            meshed = next(q);
        }
        assertEquals(WEB_ID, meshed.getAdd().getAddrs(0).getTlsIdentity().getDnsLikeIdentity());
        assertTrue(meshed.getAdd().getAddrs(0).getProtocolHint().hasH2());

        // scale up (a not-ready endpoint stays out), then down
        client.pods().inNamespace(NS).resource(pod("web-1", "10.1.0.6", true)).create();
        client.pods().inNamespace(NS).resource(pod("web-2", "10.1.0.7", true)).create();
        client.discovery().v1().endpointSlices().inNamespace(NS)
                .resource(slice("web-0", "10.1.0.5", "web-1", "10.1.0.6", "web-2-notready", "10.1.0.7")).update();
        Update up = next(q);
        assertTrue(up.hasAdd() && up.getAdd().getAddrsCount() == 1, up.toString());
        assertEquals(ByteString.copyFrom(new byte[] {10, 1, 0, 6}), up.getAdd().getAddrs(0).getAddr().getIp());
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("web-0", "10.1.0.5")).update();
        Update down = next(q);
        assertTrue(down.hasRemove(), down.toString());
        assertEquals(ByteString.copyFrom(new byte[] {10, 1, 0, 6}), down.getRemove().getAddrs(0).getIp());

        // the ClusterIP (transparent mode's original destination) resolves to the same endpoints
        Streams<Update> ipq = watch("10.96.0.10:80");
        Update byClusterIp = next(ipq);
        assertTrue(byClusterIp.hasAdd() && byClusterIp.getAdd().getAddrsCount() == 1, byClusterIp.toString());
        assertEquals(8080, byClusterIp.getAdd().getAddrs(0).getAddr().getPort());

        // a pod IP target
        Update podTarget = next(watch("10.1.0.5:8080"));
        assertTrue(podTarget.hasAdd(), podTarget.toString());
        assertEquals(WEB_ID, podTarget.getAdd().getAddrs(0).getTlsIdentity().getDnsLikeIdentity());

        // the service is deleted: its name and its former ClusterIP (which now resolves to nothing) both say so
        client.services().inNamespace(NS).withName("web").delete();
        Update gone = next(q);
        assertTrue(gone.hasNoEndpoints() && !gone.getNoEndpoints().getExists(), gone.toString());
        Update ipGone = next(ipq);
        assertTrue(ipGone.hasNoEndpoints() && !ipGone.getNoEndpoints().getExists(), ipGone.toString());
    }

    @Test
    void anEventComputesOnlyTheWatchedTargetsOfItsNamespace() throws Exception {
        String a1 = "a1.team-a.svc.cluster.local:80";
        String a2 = "a2.team-a.svc.cluster.local:80";
        String b1 = "b1.team-b.svc.cluster.local:80";
        client.pods().inNamespace("team-b").resource(new PodBuilder().withNewMetadata().withName("b-0")
                .withNamespace("team-b").endMetadata().withNewSpec().addToContainers(new ContainerBuilder()
                        .withName("app").withImage("b").build()).endSpec().withNewStatus().withPodIP("10.3.0.5")
                .endStatus().build()).create();
        Streams<Update> qa1 = watch(a1);
        Streams<Update> qa2 = watch(a2);
        Streams<Update> qb1 = watch(b1);
        Streams<Update> qpod = watch("10.3.0.5:8080");
        for (Streams<Update> q : List.of(qa1, qa2, qb1)) {
            Update first = next(q);
            assertTrue(first.hasNoEndpoints() && !first.getNoEndpoints().getExists(), first.toString());
        }
        Update pod = next(qpod);
        while (!pod.hasAdd()) { // watched before the informer had the pod: it arrives with the pod's event
            pod = next(qpod);
        }

        // events in team-b: the service appears, then its slice
        client.services().inNamespace("team-b").resource(new ServiceBuilder().withNewMetadata().withName("b1")
                .withNamespace("team-b").endMetadata().withNewSpec().withClusterIP("10.96.3.1").addNewPort()
                .withName("http").withPort(80).withTargetPort(new IntOrString(8080)).endPort().endSpec().build())
                .create();
        Update exists = next(qb1);
        assertTrue(exists.hasNoEndpoints() && exists.getNoEndpoints().getExists(), exists.toString());
        client.discovery().v1().endpointSlices().inNamespace("team-b").resource(new EndpointSliceBuilder()
                .withNewMetadata().withName("b1-x").withNamespace("team-b")
                .addToLabels("kubernetes.io/service-name", "b1").endMetadata().withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).endPort()
                .addToEndpoints(new EndpointBuilder().withAddresses("10.3.0.5").withNewConditions().withReady(true)
                        .endConditions().withNewTargetRef().withKind("Pod").withName("b-0").endTargetRef().build())
                .build()).create();
        Update added = next(qb1);
        assertTrue(added.hasAdd() && added.getAdd().getAddrsCount() == 1, added.toString());

        // team-a's targets were computed once each, when they were watched; team-b's on every team-b event since
        assertEquals(1, source.computations(a1), "an event in team-b computed a team-a target");
        assertEquals(1, source.computations(a2), "an event in team-b computed a team-a target");
        assertTrue(source.computations(b1) >= 3, "b1 computed " + source.computations(b1) + " times");
        assertTrue(source.computations("10.3.0.5:8080") >= 3,
                "the pod's address computed " + source.computations("10.3.0.5:8080") + " times");
    }

    @Test
    void headlessServicesResolveAndTerminatingEndpointsAreLeftOut() throws Exception {
        client.pods().inNamespace(NS).resource(pod("db-0", "10.1.1.5", true)).create();
        client.pods().inNamespace(NS).resource(pod("db-1", "10.1.1.6", true)).create();
        client.services().inNamespace(NS).resource(new ServiceBuilder().withNewMetadata().withName("db")
                .withNamespace(NS).endMetadata().withNewSpec().withClusterIP("None").addNewPort().withName("pg")
                .withPort(5432).withTargetPort(new IntOrString(5432)).endPort().endSpec().build()).create();
        client.discovery().v1().endpointSlices().inNamespace(NS).resource(new EndpointSliceBuilder().withNewMetadata()
                .withName("db-xyz").withNamespace(NS).addToLabels("kubernetes.io/service-name", "db").endMetadata()
                .withAddressType("IPv4").addNewPort().withName("pg").withPort(5432).endPort()
                .addToEndpoints(new EndpointBuilder().withAddresses("10.1.1.5").withNewConditions().withReady(true)
                        .endConditions().withNewTargetRef().withKind("Pod").withName("db-0").endTargetRef().build())
                .addToEndpoints(new EndpointBuilder().withAddresses("10.1.1.6").withNewConditions().withReady(false)
                        .withServing(true).withTerminating(true).endConditions().withNewTargetRef().withKind("Pod")
                        .withName("db-1").endTargetRef().build())
                .build()).create();
        Streams<Update> q = watch("db.shop.svc.cluster.local:5432");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Update u = next(q);
        while (!u.hasAdd() && System.nanoTime() < deadline) {
            u = next(q);
        }
        assertTrue(u.hasAdd(), u.toString());
        assertEquals(1, u.getAdd().getAddrsCount(), "the terminating endpoint must be left out: " + u);
        assertEquals(ByteString.copyFrom(new byte[] {10, 1, 1, 5}), u.getAdd().getAddrs(0).getAddr().getIp());
        assertEquals(WEB_ID, u.getAdd().getAddrs(0).getTlsIdentity().getDnsLikeIdentity(),
                "the identity of the pod's ServiceAccount (the test pods all run as 'web')");
    }

    @Test
    void serviceProfileChangesReachGetProfile() throws Exception {
        client.services().inNamespace(NS).resource(new ServiceBuilder().withNewMetadata().withName("api")
                .withNamespace(NS).endMetadata().withNewSpec().withClusterIP("10.96.0.11").addNewPort().withName("http")
                .withPort(80).withTargetPort(new IntOrString(8080)).endPort().endSpec().build()).create();
        BlockingQueue<DestinationProfile> q = Streams.profile(channel, "api.shop.svc.cluster.local:80").items();
        DestinationProfile p = q.poll(10, TimeUnit.SECONDS);
        assertNotNull(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!p.getFullyQualifiedName().equals("api.shop.svc.cluster.local") && System.nanoTime() < deadline) {
            p = q.poll(10, TimeUnit.SECONDS);
        }
        assertEquals(0, p.getRoutesCount(), "no ServiceProfile: the default profile");
        client.genericKubernetesResources(KubernetesSource.PROFILES).inNamespace(NS).resource(profile("/books/[^/]+",
                "500m")).create();
        DestinationProfile withRoute = q.poll(10, TimeUnit.SECONDS);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (withRoute != null && withRoute.getRoutesCount() == 0 && System.nanoTime() < until) {
            withRoute = q.poll(10, TimeUnit.SECONDS); // updates from before the profile existed may still be queued
        }
        assertNotNull(withRoute, "creating a ServiceProfile must produce a GetProfile update");
        assertEquals(1, withRoute.getRoutesCount());
        assertEquals("GET /books/{id}", withRoute.getRoutes(0).getName());
        assertEquals(250, withRoute.getRoutes(0).getTimeoutMillis());
        assertTrue(withRoute.getRoutes(0).getIsRetryable());
        assertEquals(500, withRoute.getDstOverrides(0).getWeight());
        // a translation is kept until its ServiceProfile changes: an event that leaves the ServiceProfile alone (here
        // one that changes the Service) reuses it rather than parsing the spec and compiling its regexes again
        String target = "api.shop.svc.cluster.local:80";
        DestinationProfile translated = source.get(target).profile();
        assertEquals(withRoute, translated);
        long computed = source.computations(target);
        client.services().inNamespace(NS).withName("api").edit(s -> new ServiceBuilder(s).editMetadata()
                .addToLabels("edited", "yes").endMetadata().build());
        long edited = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < edited && source.computations(target) == computed) {
            Thread.sleep(20);
        }
        assertTrue(source.computations(target) > computed, "the Service's edit never reached the watched target");
        assertSame(translated, source.get(target).profile(), "an unchanged ServiceProfile was translated again");
        // an invalid regex keeps the previous profile in force
        client.genericKubernetesResources(KubernetesSource.PROFILES).inNamespace(NS).resource(profile("/books/[oops",
                "500m")).update();
        DestinationProfile after;
        while ((after = q.poll(1, TimeUnit.SECONDS)) != null) {
            assertEquals(withRoute, after, "an invalid profile must not replace the valid one");
        }
        // and the reason is recorded as an Event on the ServiceProfile
        long until2 = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<io.fabric8.kubernetes.api.model.Event> events = List.of();
        while (System.nanoTime() < until2) {
            events = client.v1().events().inNamespace(NS).list().getItems().stream()
                    .filter(ev -> "InvalidServiceProfile".equals(ev.getReason())).toList();
            if (!events.isEmpty()) {
                break;
            }
            Thread.sleep(50);
        }
        assertEquals(1, events.size(), "one Warning Event for the invalid version");
        assertSame(translated, source.get(target).profile(), "the last valid translation stays in force");
        assertEquals("api.shop.svc.cluster.local", events.get(0).getInvolvedObject().getName());
        assertTrue(events.get(0).getMessage().contains("does not compile"), events.get(0).getMessage());
    }

    static GenericKubernetesResource profile(String pathRegex, String weight) {
        return new GenericKubernetesResourceBuilder().withApiVersion("hypha.dev/v1alpha1").withKind("ServiceProfile")
                .withNewMetadata().withName("api.shop.svc.cluster.local").withNamespace(NS).endMetadata()
                .withAdditionalProperties(Map.of("spec", Map.of(
                        "routes", List.of(Map.of("name", "GET /books/{id}", "isRetryable", true, "timeout", "250ms",
                                "condition", Map.of("method", "GET", "pathRegex", pathRegex),
                                "responseClasses", List.of(Map.of("condition", Map.of("status", Map.of("min", 500,
                                        "max", 599)), "isFailure", true)))),
                        "dstOverrides", List.of(Map.of("authority", "api-v2.shop.svc.cluster.local:80", "weight", weight)))))
                .build();
    }

    @Test
    void tokenReviewDecidesWhoGetsWhichIdentity() throws Exception {
        mockServer.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews").andReply(201, req -> {
            String body = req.getBody().readUtf8();
            boolean web = body.contains("\"token-of-web\"") && body.contains("identity.hypha.dev");
            return Map.of("apiVersion", "authentication.k8s.io/v1", "kind", "TokenReview",
                    "status", web ? Map.of("authenticated", true, "audiences", List.of("identity.hypha.dev"),
                            "user", Map.of("username", "system:serviceaccount:shop:web"))
                            : Map.of("authenticated", false, "error", "invalid bearer token"));
        }).always();
        var g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        var kp = g.generateKeyPair();
        byte[] csr = csr(kp, WEB_ID);
        var ok = identity.certify(CertifyRequest.newBuilder().setIdentity(WEB_ID).setToken(ByteString.copyFromUtf8("token-of-web"))
                .setCertificateSigningRequest(ByteString.copyFrom(csr)).build());
        assertTrue(ok.getLeafCertificate().size() > 0);
        String db = "db.shop.serviceaccount.identity.cluster.local";
        StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> identity.certify(
                CertifyRequest.newBuilder().setIdentity(db).setToken(ByteString.copyFromUtf8("token-of-web"))
                        .setCertificateSigningRequest(ByteString.copyFrom(csr(kp, db))).build()));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> identity.certify(
                CertifyRequest.newBuilder().setIdentity(WEB_ID).setToken(ByteString.copyFromUtf8("stolen"))
                        .setCertificateSigningRequest(ByteString.copyFrom(csr)).build()));
        assertEquals(Status.Code.UNAUTHENTICATED, bad.getStatus().getCode());
        given().queryParam("identity", WEB_ID).post("/join-tokens").then().statusCode(409);
    }

    static byte[] csr(java.security.KeyPair kp, String id) throws Exception {
        var b = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + id), kp.getPublic());
        ExtensionsGenerator eg = new ExtensionsGenerator();
        eg.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.dNSName, id)));
        b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, eg.generate());
        return b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();
    }
}
