package dev.hypha.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The fabric8 mock API server in CRUD mode, and a kubeconfig file that points the CLI at it. */
final class MockCluster implements AutoCloseable {
    final KubernetesMockServer server;
    final KubernetesClient client;
    final Path kubeconfig;

    MockCluster() throws IOException {
        var responses = new java.util.HashMap<io.fabric8.mockwebserver.ServerRequest,
                java.util.Queue<io.fabric8.mockwebserver.ServerResponse>>();
        server = new KubernetesMockServer(new io.fabric8.mockwebserver.Context(),
                new io.fabric8.mockwebserver.MockWebServer(), responses,
                new io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher(responses), false);
        server.init(java.net.InetAddress.getLoopbackAddress(), 0);
        server.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("33").withGitVersion("v1.33.1")
                .build());
        client = server.createClient();
        kubeconfig = kubeconfig("http://127.0.0.1:" + server.getPort());
    }

    static Path kubeconfig(String url) throws IOException {
        Path f = Files.createTempFile("kubeconfig", ".yaml");
        Files.writeString(f, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster:
                    server: %s
                users:
                - name: tester
                  user:
                    token: not-a-real-token
                contexts:
                - name: mock
                  context:
                    cluster: mock
                    user: tester
                    namespace: default
                current-context: mock
                """.formatted(url));
        return f;
    }

    @Override
    public void close() throws IOException {
        client.close();
        server.destroy();
        Files.deleteIfExists(kubeconfig);
    }
}
