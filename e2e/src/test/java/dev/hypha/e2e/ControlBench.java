package dev.hypha.e2e;

import com.google.protobuf.ByteString;
import dev.hypha.api.v1.CertifyRequest;
import dev.hypha.api.v1.CertifyResponse;
import dev.hypha.api.v1.GetDestination;
import dev.hypha.api.v1.Update;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.grpc.GrpcChannel;
import dev.hypha.proxy.grpc.GrpcException;
import dev.hypha.proxy.identity.Csr;
import dev.hypha.proxy.transport.Transports;
import dev.hypha.proxy.config.ProxyConfig;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Control-plane benchmark (bench/control.sh): RSS with 10 000 endpoints, propagation latency of one endpoint
 * change to N open Destination.Get streams, and certificate signings per second. Prints a Markdown section.
 */
public final class ControlBench {
    static final int SERVICES = 100;
    static final int PER_SERVICE = 100;

    private ControlBench() {
    }

    static void registry(Path file, int extra) throws Exception {
        StringBuilder sb = new StringBuilder("{\"services\": {");
        for (int s = 0; s < SERVICES; s++) {
            sb.append(s == 0 ? "" : ",").append("\"svc-").append(s).append(".bench.svc.cluster.local:80\": {\"endpoints\": [");
            int n = PER_SERVICE + (s == 0 ? extra : 0);
            for (int e = 0; e < n; e++) {
                sb.append(e == 0 ? "" : ",").append("{\"address\": \"10.").append(s / 250).append('.').append(s % 250)
                        .append('.').append(e + 1).append(":8080\", \"identity\": \"svc-").append(s)
                        .append(".bench.serviceaccount.identity.cluster.local\", \"labels\": {\"pod\": \"p").append(e)
                        .append("\"}}");
            }
            sb.append("]}");
        }
        sb.append("}}");
        Path tmp = file.resolveSibling("registry.tmp");
        Files.writeString(tmp, sb.toString());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static long kib(long pid, String field) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith(field + ":")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("hypha-control-bench");
        int[] ports = Procs.freePorts(2);
        int grpc = ports[0];
        int admin = ports[1];
        Path reg = dir.resolve("registry.json");
        registry(reg, 0);
        StringBuilder out = new StringBuilder();
        try (Procs procs = new Procs(dir)) {
            Process control = procs.localControl(grpc, admin, Map.of(
                    "HYPHA_CONTROL_REGISTRY_FILE", reg.toString(),
                    "HYPHA_CONTROL_REGISTRY_RELOAD_INTERVAL", "20ms",
                    "HYPHA_CONTROL_SUBSCRIBER_QUEUE", "1024",
                    "HYPHA_CONTROL_GRPC_TLS", "false")); // the bench's client speaks plain gRPC
            Thread.sleep(2000);
            long idleRss = kib(control.pid(), "VmRSS");
            out.append("| control plane RSS, 10 000 endpoints loaded, idle (MiB) | ")
                    .append(String.format("%.1f", idleRss / 1024.0)).append(" |\n");

            Transports t = Transports.create(ProxyConfig.Transport.AUTO, 2, "bench");
            try {
                for (int n : new int[] {100, 1000}) {
                    List<GrpcChannel> channels = new ArrayList<>();
                    for (int c = 0; c < Math.max(1, n / 100); c++) {
                        channels.add(new GrpcChannel(t, t.group().next(), new HostPort("127.0.0.1", grpc), null,
                                "127.0.0.1:" + grpc));
                    }
                    CountDownLatch first = new CountDownLatch(n);
                    AtomicInteger phase = new AtomicInteger();
                    AtomicLong changedAt = new AtomicLong();
                    long[] arrival = new long[n];
                    CountDownLatch got = new CountDownLatch(n);
                    List<GrpcChannel.Call> calls = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        int idx = i;
                        calls.add(channels.get(i % channels.size()).serverStream("hypha.api.v1.Destination/Get",
                                GetDestination.newBuilder().setPath("svc-0.bench.svc.cluster.local:80").build(),
                                Update.parser(), new GrpcChannel.StreamListener<Update>() {
                                    boolean seenFirst;

                                    @Override
                                    public void onMessage(Update u) {
                                        if (!seenFirst) {
                                            seenFirst = true;
                                            first.countDown();
                                        } else if (phase.get() == 1 && u.hasAdd()) {
                                            arrival[idx] = System.nanoTime();
                                            got.countDown();
                                        }
                                    }

                                    @Override
                                    public void onClose(GrpcException error) {
                                    }
                                }));
                    }
                    if (!first.await(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("streams did not open: " + first.getCount() + " missing");
                    }
                    long rssStreams = kib(control.pid(), "VmRSS");
                    phase.set(1);
                    changedAt.set(System.nanoTime());
                    registry(reg, n == 100 ? 1 : 2); // one more endpoint for svc-0
                    if (!got.await(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException(got.getCount() + " streams never saw the change");
                    }
                    long[] lat = new long[n];
                    for (int i = 0; i < n; i++) {
                        lat[i] = (arrival[i] - changedAt.get()) / 1_000_000;
                    }
                    java.util.Arrays.sort(lat);
                    out.append("| endpoint change → ").append(n).append(" open Get streams: p50 / p99 / max (ms, ")
                            .append("includes the 20 ms file poll) | ").append(lat[n / 2]).append(" / ")
                            .append(lat[(int) (n * 0.99)]).append(" / ").append(lat[n - 1]).append(" |\n");
                    out.append("| control plane RSS with ").append(n).append(" open streams (MiB) | ")
                            .append(String.format("%.1f", rssStreams / 1024.0)).append(" |\n");
                    calls.forEach(GrpcChannel.Call::cancel);
                    channels.forEach(GrpcChannel::close);
                }
                // signings per second: 8 callers for 10 s
                String id = "bench.bench.serviceaccount.identity.cluster.local";
                HttpResponse<String> tok = Procs.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin
                        + "/join-tokens?identity=" + id + "&ttl=1h")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                var g = KeyPairGenerator.getInstance("EC");
                g.initialize(new ECGenParameterSpec("secp256r1"));
                byte[] csr = Csr.build(g.generateKeyPair(), id, "spiffe://cluster.local/ns/bench/sa/bench");
                CertifyRequest req = CertifyRequest.newBuilder().setIdentity(id).setToken(ByteString.copyFromUtf8(tok.body().trim()))
                        .setCertificateSigningRequest(ByteString.copyFrom(csr)).build();
                GrpcChannel ch = new GrpcChannel(t, t.group().next(), new HostPort("127.0.0.1", grpc), null, "control");
                for (int i = 0; i < 200; i++) { // warm-up
                    ch.unary("hypha.api.v1.Identity/Certify", req, CertifyResponse.parser(), Duration.ofSeconds(10)).get();
                }
                AtomicInteger done = new AtomicInteger();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                List<Thread> callers = new ArrayList<>();
                for (int c = 0; c < 8; c++) {
                    Thread th = new Thread(() -> {
                        while (System.nanoTime() < end) {
                            try {
                                ch.unary("hypha.api.v1.Identity/Certify", req, CertifyResponse.parser(),
                                        Duration.ofSeconds(10)).get();
                                done.incrementAndGet();
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        }
                    });
                    th.start();
                    callers.add(th);
                }
                for (Thread th : callers) {
                    th.join();
                }
                out.append("| certificate signings per second (8 concurrent callers, ECDSA P-256) | ")
                        .append(done.get() / 10).append(" |\n");
                out.append("| control plane RSS after the signing run (MiB) | ")
                        .append(String.format("%.1f", kib(control.pid(), "VmRSS") / 1024.0)).append(" |\n");
                ch.close();
            } finally {
                t.group().shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
            Procs.stop(control);
        }
        System.out.print(out);
    }
}
