package dev.hypha.proxy.testing;

import dev.hypha.proxy.Proxy;
import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.transport.OrigDstLookup;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Two proxies on loopback in explicit mode, as two meshed pods: a client-side proxy A (its outbound listener is
 * where test clients connect) and a server-side proxy B (its inbound listener fronts the test app). The logical
 * service {@code svc.test:<appPort>} is meshed with identity B.
 */
public final class Mesh implements AutoCloseable {
    public static final String ID_A = "client.test.serviceaccount.identity.cluster.local";
    public static final String ID_B = "server.test.serviceaccount.identity.cluster.local";

    public final TestPki pki;
    public final TestPki.Identity a;
    public final TestPki.Identity b;
    public final Proxy client;
    public final Proxy server;
    private final Path dir;

    private Mesh(Path dir, TestPki pki, TestPki.Identity a, TestPki.Identity b, Proxy client, Proxy server) {
        this.dir = dir;
        this.pki = pki;
        this.a = a;
        this.b = b;
        this.client = client;
        this.server = server;
    }

    /** Builder-style options for the two proxies. */
    public static final class Options {
        final Map<String, String> clientEnv = new HashMap<>();
        final Map<String, String> serverEnv = new HashMap<>();
        String meshIdentity = ID_B;
        String extraDestinations = "";

        public Options client(String key, String value) {
            clientEnv.put(key, value);
            return this;
        }

        public Options server(String key, String value) {
            serverEnv.put(key, value);
            return this;
        }

        /** The identity proxy A expects of B (set it wrong to test the client-side check). */
        public Options expectIdentity(String id) {
            meshIdentity = id;
            return this;
        }

        public Options destination(String entry) {
            extraDestinations = extraDestinations + "," + entry;
            return this;
        }
    }

    public static Mesh start(Path dir, int[] meshedPorts, Options o) throws Exception {
        TestPki pki = new TestPki("hypha test root");
        TestPki.Identity a = pki.issue(ID_A, dir.resolve("a"));
        TestPki.Identity b = pki.issue(ID_B, dir.resolve("b"));
        Map<String, String> sEnv = base(b);
        sEnv.putAll(o.serverEnv);
        Proxy server = Proxy.start(ConfigParser.parse(sEnv), noOrigDst());
        StringBuilder dests = new StringBuilder();
        for (int port : meshedPorts) {
            dests.append(dests.length() == 0 ? "" : ",").append("svc.test:").append(port).append("=127.0.0.1:")
                    .append(server.inboundAddress().getPort()).append('@').append(o.meshIdentity);
        }
        dests.append(o.extraDestinations);
        Map<String, String> cEnv = base(a);
        cEnv.put(ConfigParser.DESTINATIONS, dests.toString());
        cEnv.putAll(o.clientEnv);
        Proxy client;
        try {
            client = Proxy.start(ConfigParser.parse(cEnv), noOrigDst());
        } catch (Exception e) {
            server.shutdown();
            throw e;
        }
        return new Mesh(dir, pki, a, b, client, server);
    }

    static Map<String, String> base(TestPki.Identity id) {
        Map<String, String> env = new HashMap<>();
        env.put(ConfigParser.MODE, "explicit");
        env.put(ConfigParser.OUTBOUND_LISTEN_ADDR, "127.0.0.1:0");
        env.put(ConfigParser.INBOUND_LISTEN_ADDR, "127.0.0.1:0");
        env.put(ConfigParser.ADMIN_LISTEN_ADDR, "127.0.0.1:0");
        env.put(ConfigParser.TAP_LISTEN_ADDR, "127.0.0.1:0");
        env.put(ConfigParser.IDENTITY_CERT_FILE, id.cert().toString());
        env.put(ConfigParser.IDENTITY_KEY_FILE, id.key().toString());
        env.put(ConfigParser.TRUST_ANCHORS_FILE, id.anchors().toString());
        env.put(ConfigParser.SHUTDOWN_GRACE, "2s");
        return env;
    }

    static OrigDstLookup noOrigDst() {
        return ch -> {
            throw new IllegalStateException("explicit mode has no original destination");
        };
    }

    public int outboundPort() {
        return client.outboundAddress().getPort();
    }

    public String metrics(Proxy p) throws Exception {
        return Http.get("http://127.0.0.1:" + p.adminAddress().getPort() + "/metrics").body();
    }

    public ProxyConfig.Mode mode() {
        return client.runtime().config().mode();
    }

    @Override
    public void close() {
        client.shutdown();
        server.shutdown();
    }
}
