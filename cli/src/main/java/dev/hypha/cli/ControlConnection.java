package dev.hypha.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.LocalPortForward;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The CLI's gRPC connection to hypha-control, with the caller's credentials as a bearer token. Two ways:
 * <ul>
 * <li>{@code --local}: the context file {@code hypha demo} writes ({@code $HYPHA_LOCAL_CONTEXT}, default
 * {@code ~/.hypha/local.json}): the control plane's address, identity and trust anchors, and its local token file;</li>
 * <li>a cluster: the kubeconfig's bearer token, a port-forward to a ready hypha-control pod's 8086, and the trust
 * anchors of the {@code hypha-config} ConfigMap.</li>
 * </ul>
 * The control plane's certificate must chain to the anchors and name the control plane's identity.
 */
final class ControlConnection implements AutoCloseable {
    static final String CONTROL_NS = "hypha-system";
    static final int CONTROL_PORT = 8086;

    final ManagedChannel channel;
    final ClientInterceptor credentials;
    final String where;
    private final AutoCloseable forward;
    private final KubernetesClient kube;

    private ControlConnection(ManagedChannel channel, String token, String where, AutoCloseable forward,
            KubernetesClient kube) {
        this.channel = channel;
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        this.credentials = MetadataUtils.newAttachHeadersInterceptor(md);
        this.where = where;
        this.forward = forward;
        this.kube = kube;
    }

    static Path localContextPath() {
        String env = System.getProperty("hypha.local-context", System.getenv("HYPHA_LOCAL_CONTEXT"));
        return env != null && !env.isBlank() ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".hypha", "local.json");
    }

    static ControlConnection open(VizOptions o) {
        return o.local ? local(localContextPath()) : cluster(o.kube);
    }

    static ControlConnection local(Path file) {
        if (!Files.isReadable(file)) {
            throw new Hypha.UserException("no local mesh: " + file + " does not exist (it is written by ./hypha demo "
                    + "while it runs; start it in another terminal, or drop --local to use your cluster)", Hypha.FAILED);
        }
        try {
            JsonNode ctx = new ObjectMapper().readTree(Files.readString(file));
            String address = ctx.path("controlAddress").asText();
            String identity = ctx.path("controlIdentity").asText();
            String anchors = ctx.path("trustAnchors").asText();
            Path tokenFile = Path.of(ctx.path("tokenFile").asText());
            String token = Files.readString(tokenFile).trim();
            int colon = address.lastIndexOf(':');
            return new ControlConnection(channel(address.substring(0, colon),
                    Integer.parseInt(address.substring(colon + 1)), identity, anchors), token,
                    "the local control plane at " + address, null, null);
        } catch (Hypha.UserException e) {
            throw e;
        } catch (Exception e) {
            throw new Hypha.UserException("cannot use the local context " + file + ": " + e.getMessage()
                    + " (is ./hypha demo still running?)", Hypha.FAILED);
        }
    }

    static ControlConnection cluster(KubeOptions opts) {
        KubernetesClient k = opts.client();
        try {
            String token = k.getConfiguration().getAutoOAuthToken();
            if (token == null || token.isBlank()) {
                token = k.getConfiguration().getOauthToken();
            }
            if (token == null || token.isBlank()) {
                throw new Hypha.UserException("your kubeconfig user has no bearer token, and hypha-control checks "
                        + "callers with a TokenReview: use a user with a token (e.g. kubectl create token <sa>)",
                        Hypha.FAILED);
            }
            ConfigMap cm = k.configMaps().inNamespace(CONTROL_NS).withName(dev.hypha.inject.Mesh.CONFIG_MAP).get();
            if (cm == null) {
                throw new Hypha.UserException("Hypha is not installed: no ConfigMap " + dev.hypha.inject.Mesh.CONFIG_MAP
                        + " in " + CONTROL_NS + " (see hypha check)", Hypha.FAILED);
            }
            dev.hypha.inject.Mesh mesh;
            try {
                mesh = dev.hypha.inject.Mesh.fromConfigMapData(cm.getData());
            } catch (dev.hypha.inject.MeshValues.InvalidValuesException e) {
                throw new Hypha.UserException("the installed mesh's configuration is not usable: " + e.getMessage(),
                        Hypha.FAILED);
            }
            Pod pod = k.pods().inNamespace(CONTROL_NS).withLabel("app.kubernetes.io/name", "hypha-control").list()
                    .getItems().stream().filter(ControlConnection::ready).findFirst().orElseThrow(() ->
                            new Hypha.UserException("no ready hypha-control pod in " + CONTROL_NS
                                    + " (see hypha check)", Hypha.FAILED));
            LocalPortForward pf = k.pods().inNamespace(CONTROL_NS).withName(pod.getMetadata().getName())
                    .portForward(CONTROL_PORT);
            return new ControlConnection(channel("127.0.0.1", pf.getLocalPort(), mesh.controlIdentity(),
                    mesh.trustAnchorsPem()),
                    token, "hypha-control (pod " + pod.getMetadata().getName() + ")", pf, k);
        } catch (Hypha.UserException e) {
            k.close();
            throw e;
        } catch (Exception e) {
            k.close();
            throw new Hypha.UserException("cannot reach the control plane through the API server: " + e.getMessage(),
                    Hypha.FAILED);
        }
    }

    private static boolean ready(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions()
                .stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    private static ManagedChannel channel(String host, int port, String identity, String anchorsPem) throws Exception {
        return NettyChannelBuilder.forAddress(host, port)
                .sslContext(GrpcSslContexts.forClient().trustManager(new ByteArrayInputStream(
                        anchorsPem.getBytes(StandardCharsets.US_ASCII))).build())
                .overrideAuthority(identity).maxInboundMessageSize(16 << 20).build();
    }

    /** A gRPC failure as the one sentence the user sees, with an exit code scripts can rely on. */
    Hypha.UserException explain(StatusRuntimeException e) {
        Status s = e.getStatus();
        String d = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        return switch (s.getCode()) {
            case UNAVAILABLE, DEADLINE_EXCEEDED -> new Hypha.UserException("cannot reach " + where + ": " + d,
                    Hypha.FAILED);
            case INVALID_ARGUMENT -> new Hypha.UserException(d, Hypha.USAGE);
            default -> new Hypha.UserException(d, Hypha.FAILED);
        };
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (forward != null) {
            try {
                forward.close();
            } catch (Exception e) {
                // closing anyway
            }
        }
        if (kube != null) {
            kube.close();
        }
    }
}
