package dev.hypha.proxy.identity;

import com.google.protobuf.ByteString;
import dev.hypha.api.v1.CertifyRequest;
import dev.hypha.api.v1.CertifyResponse;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.config.IdentityNames;
import dev.hypha.proxy.grpc.GrpcChannel;
import dev.hypha.proxy.grpc.GrpcException;
import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.tls.Credentials;
import dev.hypha.proxy.tls.CredentialStore;
import dev.hypha.proxy.tls.MeshTls;
import dev.hypha.proxy.transport.Transports;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Keeps the proxy certified: makes an ECDSA P-256 key in memory at start (never written, never sent), sends a CSR
 * and the workload's token to {@code Identity.Certify}, installs the leaf it gets, and renews at about 70 % of the
 * lifetime (jittered). Failures back off exponentially (1 s doubling to 60 s, jittered). Runs on its own small
 * thread, never on an event loop. New connections use new credentials; open ones keep theirs.
 */
public final class IdentityClient implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(IdentityClient.class.getName());
    static final String METHOD = "hypha.api.v1.Identity/Certify";

    private final String identity;
    private final Path tokenFile;
    private final List<X509Certificate> anchors;
    private final CredentialStore store;
    private final ProxyMetrics metrics;
    private final SslProvider provider;
    private final GrpcChannel channel;
    private final KeyPair key;
    private final byte[] csr;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hypha-identity");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong certified = new AtomicLong();
    private int failures;

    /**
     * The proxy's key and the CSR for it. Made apart from the client so that the proxy can make them beside the rest
     * of its start-up (tens of milliseconds of a cold JVM's time).
     */
    public record KeyMaterial(KeyPair key, byte[] csr) {
        public static KeyMaterial make(String identity) throws Exception {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair key = g.generateKeyPair();
            return new KeyMaterial(key, Csr.build(key, identity, IdentityNames.spiffeId(identity)));
        }
    }

    public IdentityClient(String identity, HostPort controlPlane, Path tokenFile, List<X509Certificate> anchors,
            CredentialStore store, ProxyMetrics metrics, SslProvider provider, Transports transports,
            io.netty.handler.ssl.SslContext controlTls, String controlIdentity, KeyMaterial keys) {
        this.identity = identity;
        this.tokenFile = tokenFile;
        this.anchors = anchors;
        this.store = store;
        this.metrics = metrics;
        this.provider = provider;
        this.channel = new GrpcChannel(transports, transports.group().next(), controlPlane, controlTls,
                controlPlane.toString(), controlIdentity);
        this.key = keys.key();
        this.csr = keys.csr();
    }

    public void start() {
        timer.execute(this::attempt);
    }

    /** How many certificates this client has installed. */
    public long certifiedCount() {
        return certified.get();
    }

    private void attempt() {
        Duration next;
        try {
            byte[] token = token(Files.readAllBytes(tokenFile));
            CertifyRequest req = CertifyRequest.newBuilder().setIdentity(identity)
                    .setToken(ByteString.copyFrom(token)).setCertificateSigningRequest(ByteString.copyFrom(csr)).build();
            CertifyResponse resp = channel.unary(METHOD, req, CertifyResponse.parser(), Duration.ofSeconds(10)).get();
            Credentials c = install(resp);
            failures = 0;
            long life = Duration.between(Instant.now(), c.notAfter()).toMillis();
            double jitter = 0.9 + 0.2 * ThreadLocalRandom.current().nextDouble();
            next = Duration.ofMillis(Math.max(500, (long) (life * 0.7 * jitter)));
            LOG.info("certified as " + identity + " until " + c.notAfter() + "; renewing in " + next.toSeconds() + "s");
            metrics.proxyErrors.add(0, "identity", "certify_failed");
        } catch (Exception e) {
            Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null
                    ? e.getCause() : e;
            failures++;
            long backoff = Math.min(60_000, 1000L << Math.min(failures - 1, 6));
            next = Duration.ofMillis((long) (backoff * (0.5 + ThreadLocalRandom.current().nextDouble() * 0.5)));
            metrics.proxyErrors.inc("identity", "certify_failed");
            LOG.warning("certify failed (attempt " + failures + "), retrying in " + next.toMillis() + " ms: "
                    + describe(cause));
        }
        if (!timer.isShutdown()) {
            timer.schedule(this::attempt, next.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * The token as the file holds it, without the whitespace around it: a token never contains any, and a file
     * written by {@code curl -X POST .../join-tokens > token} or {@code echo} ends with a newline that the control
     * plane would refuse as a malformed token.
     */
    static byte[] token(byte[] file) {
        int from = 0;
        int to = file.length;
        while (from < to && isAsciiSpace(file[from])) {
            from++;
        }
        while (to > from && isAsciiSpace(file[to - 1])) {
            to--;
        }
        return from == 0 && to == file.length ? file : java.util.Arrays.copyOfRange(file, from, to);
    }

    private static boolean isAsciiSpace(byte b) {
        return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }

    private static String describe(Throwable t) {
        if (t instanceof java.nio.file.NoSuchFileException) {
            return "the token file " + t.getMessage() + " does not exist";
        }
        if (t instanceof GrpcException g) {
            return g.getMessage();
        }
        return t.toString();
    }

    private Credentials install(CertifyResponse resp) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> chain = new ArrayList<>();
        chain.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(resp.getLeafCertificate().toByteArray())));
        for (ByteString b : resp.getIntermediateCertificatesList()) {
            chain.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.toByteArray())));
        }
        if (!chain.get(0).getPublicKey().equals(key.getPublic())) {
            throw new IllegalStateException("the control plane returned a certificate for another key");
        }
        Credentials c = MeshTls.of(key.getPrivate(), chain, anchors, identity, provider);
        store.set(c);
        certified.incrementAndGet();
        metrics.certExpiry.set(c.notAfter().getEpochSecond(), c.identity());
        return c;
    }

    @Override
    public void close() {
        timer.shutdownNow();
        channel.close();
    }
}
