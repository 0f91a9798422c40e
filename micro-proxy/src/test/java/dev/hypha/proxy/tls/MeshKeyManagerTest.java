package dev.hypha.proxy.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypha.proxy.testing.TestPki;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslProvider;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The proxy's identity reaches the TLS provider through {@link MeshKeyManager} (not a key store): a real TLS 1.3
 * handshake with client certificates, in memory, between a client and a server built by {@link MeshTls}, with
 * BoringSSL and with the JDK's provider (the fallback when BoringSSL does not load). Each side proves its own
 * identity to the other.
 */
class MeshKeyManagerTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"OPENSSL", "JDK"})
    void eachSideProvesItsIdentityWithTheProvider(SslProvider provider) throws Exception {
        TestPki pki = new TestPki("key manager test root");
        TestPki.Identity a = pki.issue("a.ns.serviceaccount.identity.cluster.local", dir.resolve("a"));
        TestPki.Identity b = pki.issue("b.ns.serviceaccount.identity.cluster.local", dir.resolve("b"));
        Credentials client = MeshTls.fromFiles(a.cert(), a.key(), a.anchors(), a.name(), provider);
        Credentials server = MeshTls.fromFiles(b.cert(), b.key(), b.anchors(), b.name(), provider);
        SSLEngine c = client.clientContext().newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine s = server.serverContext().newEngine(ByteBufAllocator.DEFAULT);
        try {
            handshake(c, s);
            assertEquals("TLSv1.3", c.getSession().getProtocol());
            assertEquals(b.name(), PeerIdentity.of((X509Certificate) c.getSession().getPeerCertificates()[0])
                    .dnsName(), "the client saw the server's identity");
            assertEquals(a.name(), PeerIdentity.of((X509Certificate) s.getSession().getPeerCertificates()[0])
                    .dnsName(), "the server saw the client's identity");
        } finally {
            release(c);
            release(s);
        }
    }

    /** Runs both engines' handshakes against each other in memory until both are done. */
    private static void handshake(SSLEngine c, SSLEngine s) throws SSLException {
        c.beginHandshake();
        s.beginHandshake();
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer cToS = ByteBuffer.allocate(64 * 1024);
        ByteBuffer sToC = ByteBuffer.allocate(64 * 1024);
        ByteBuffer appIn = ByteBuffer.allocate(64 * 1024);
        for (int i = 0; i < 100; i++) {
            if (done(c) && done(s)) {
                return;
            }
            step(c, empty, cToS, sToC, appIn);
            step(s, empty, sToC, cToS, appIn);
        }
        throw new AssertionError("handshake did not finish: client " + c.getHandshakeStatus() + ", server "
                + s.getHandshakeStatus());
    }

    private static boolean done(SSLEngine e) {
        HandshakeStatus h = e.getHandshakeStatus();
        return h == HandshakeStatus.NOT_HANDSHAKING || h == HandshakeStatus.FINISHED;
    }

    /** One engine: run its tasks, write what it wants to send into {@code out}, read what {@code in} holds. */
    private static void step(SSLEngine e, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer appIn)
            throws SSLException {
        Runnable task;
        while ((task = e.getDelegatedTask()) != null) {
            task.run();
        }
        e.wrap(empty, out);
        in.flip();
        while (in.hasRemaining()) {
            int before = in.remaining();
            appIn.clear();
            e.unwrap(in, appIn);
            while ((task = e.getDelegatedTask()) != null) {
                task.run();
            }
            if (in.remaining() == before) {
                break;
            }
        }
        in.compact();
        assertTrue(appIn.position() == 0, "no application data during the handshake");
    }

    private static void release(SSLEngine e) {
        if (e instanceof io.netty.util.ReferenceCounted r) {
            r.release();
        }
    }
}
