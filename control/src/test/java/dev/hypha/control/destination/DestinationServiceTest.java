package dev.hypha.control.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.api.v1.Update;
import dev.hypha.control.Streams;
import dev.hypha.control.identity.TestCa;
import dev.hypha.control.local.Registry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(TestCa.class)
class DestinationServiceTest {
    static final String WEB = "web.demo.svc.cluster.local:8080";
    static final String ID = "web.demo.serviceaccount.identity.cluster.local";

    @GrpcClient("destination")
    io.grpc.Channel channel;

    @Inject
    @io.quarkus.grpc.GrpcService
    DestinationService service;

    @Inject
    Registry registry;

    static void writeRegistry(String json) throws Exception {
        var tmp = TestCa.dir.resolve("registry.json.tmp");
        Files.writeString(tmp, json);
        Files.move(tmp, TestCa.dir.resolve("registry.json"), StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    static String endpoint(int port, int proxyPort, String pod) {
        return "{\"address\": \"127.0.0.1:" + port + "\", \"identity\": \"" + ID + "\", \"proxyPort\": " + proxyPort
                + ", \"labels\": {\"pod\": \"" + pod + "\"}}";
    }

    Streams<Update> watch(String target) {
        return Streams.get(channel, target);
    }

    @Test
    void endpointsAppearChangeAndDisappearOnAnOpenStream() throws Exception {
        writeRegistry("{\"services\": {}}");
        Streams<Update> w = watch(WEB);
        Update first = w.next();
        assertTrue(first.hasNoEndpoints(), first.toString());
        assertFalse(first.getNoEndpoints().getExists(), "an unknown service does not exist");

        writeRegistry("{\"services\": {\"" + WEB + "\": {\"endpoints\": [" + endpoint(18001, 14001, "web-0") + ","
                + endpoint(18002, 14002, "web-1") + "]}}}");
        Update add = w.next();
        assertTrue(add.hasAdd(), add.toString());
        assertEquals(2, add.getAdd().getAddrsCount());
        var a = add.getAdd().getAddrs(0);
        assertEquals(ID, a.getTlsIdentity().getDnsLikeIdentity());
        assertTrue(a.getProtocolHint().hasH2());
        assertTrue(a.getInboundProxyPort() == 14001 || a.getInboundProxyPort() == 14002);
        assertTrue(a.getMetricLabelsMap().get("pod").startsWith("web-"));

        // scale down
        writeRegistry("{\"services\": {\"" + WEB + "\": {\"endpoints\": [" + endpoint(18001, 14001, "web-0") + "]}}}");
        Update rm = w.next();
        assertTrue(rm.hasRemove(), rm.toString());
        assertEquals(18002, rm.getRemove().getAddrs(0).getPort());

        // a file that does not parse keeps the last good registry and says why
        Files.writeString(TestCa.dir.resolve("registry.json"), "{\"services\": [oops");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (registry.lastError() == null && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertNotNull(registry.lastError());
        assertEquals(null, w.items().poll(300, TimeUnit.MILLISECONDS), "a bad file must not change anything");

        // the service is deleted
        writeRegistry("{\"services\": {}}");
        Update gone = w.next();
        assertTrue(gone.hasNoEndpoints(), gone.toString());
        assertFalse(gone.getNoEndpoints().getExists());
    }

    @Test
    void aKnownServiceWithoutEndpointsExists() throws Exception {
        writeRegistry("{\"services\": {\"db.demo.svc.cluster.local:5432\": {\"endpoints\": []}}}");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!registry.get("db.demo.svc.cluster.local:5432").exists() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        Update u = watch("db.demo.svc.cluster.local:5432").next();
        assertTrue(u.hasNoEndpoints() && u.getNoEndpoints().getExists(), u.toString());
    }

    @Test
    void aRegistryProfileIsServedByGetProfile() throws Exception {
        writeRegistry("{\"services\": {\"books.demo.svc.cluster.local:80\": {\"endpoints\": [], \"profile\": "
                + "{\"routes\": [{\"name\": \"GET /books\", \"condition\": {\"method\": \"GET\", \"pathRegex\": \"/books\"},"
                + " \"timeout\": \"300ms\"}], \"retryBudget\": {\"retryRatio\": 0.1, \"minRetriesPerSecond\": 5,"
                + " \"ttl\": \"20s\"}}}}}");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (registry.get("books.demo.svc.cluster.local:80").profile() == null && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        var q = Streams.profile(channel, "books.demo.svc.cluster.local:80").items();
        var p = q.poll(10, TimeUnit.SECONDS);
        assertNotNull(p);
        assertEquals("GET /books", p.getRoutes(0).getName());
        assertEquals(300, p.getRoutes(0).getTimeoutMillis());
        assertEquals(20_000, p.getRetryBudget().getTtlMillis());
    }

    @Test
    void aMalformedTargetIsInvalidArgument() throws Exception {
        Streams<Update> w = watch("no port here");
        Throwable t = w.errors().poll(10, TimeUnit.SECONDS);
        assertInstanceOf(StatusRuntimeException.class, t);
        assertEquals(Status.Code.INVALID_ARGUMENT, ((StatusRuntimeException) t).getStatus().getCode());
    }

    @Test
    void aSubscriberThatStopsReadingIsCutOffAndReleased() {
        List<Consumer<ServiceSource.Snapshot>> listeners = new CopyOnWriteArrayList<>();
        ServiceSource fake = new ServiceSource() {
            @Override
            public Snapshot get(String authority) {
                return Snapshot.UNKNOWN;
            }

            @Override
            public AutoCloseable watch(String authority, Consumer<Snapshot> listener) {
                listeners.add(listener);
                return () -> listeners.remove(listener);
            }
        };
        AssertSubscriber<Update> slow = service.stream(fake, "x.demo.svc.cluster.local:80", 8)
                .subscribe().withSubscriber(AssertSubscriber.create(0)); // requests nothing
        assertEquals(1, listeners.size());
        for (int i = 0; i < 10_000 && !listeners.isEmpty(); i++) {
            var ep = new Endpoint("10.0.0." + (i % 250 + 1), 8000 + i, null, 0, 10000, null);
            listeners.get(0).accept(new ServiceSource.Snapshot(true, List.of(ep), List.of()));
        }
        slow.awaitFailure();
        StatusRuntimeException e = assertInstanceOf(StatusRuntimeException.class, slow.getFailure());
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertTrue(listeners.isEmpty(), "the cut-off stream must stop watching (nothing retained)");
    }
}
