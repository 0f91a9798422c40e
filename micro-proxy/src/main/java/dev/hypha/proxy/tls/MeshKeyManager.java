package dev.hypha.proxy.tls;

import io.netty.handler.ssl.OpenSslCachingX509KeyManagerFactory;
import io.netty.handler.ssl.util.KeyManagerFactoryWrapper;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The proxy's one key and certificate chain, handed to the TLS provider directly. Giving Netty a key and chain
 * instead makes it store the key in a PKCS#12 key store and read it back, each time encrypting and decrypting it
 * with 10 000 rounds of PBKDF2 — twice per context, in not yet compiled code: most of the time a certificate took to
 * install (bench/README.md). A proxy has exactly one identity, so every alias question has the same answer.
 */
final class MeshKeyManager extends X509ExtendedKeyManager {
    private static final String ALIAS = "mesh";
    private static final String[] ALIASES = {ALIAS};
    private final PrivateKey key;
    private final X509Certificate[] chain;

    private MeshKeyManager(PrivateKey key, X509Certificate[] chain) {
        this.key = key;
        this.chain = chain.clone();
    }

    /**
     * A key manager factory over this key and chain. With BoringSSL the native key material is made once and
     * cached (Netty's default for a key manager it did not build would convert it again on every handshake).
     */
    static KeyManagerFactory factory(PrivateKey key, X509Certificate[] chain, boolean openSsl) {
        KeyManagerFactory kmf = new KeyManagerFactoryWrapper(new MeshKeyManager(key, chain));
        return openSsl ? new OpenSslCachingX509KeyManagerFactory(kmf) : kmf;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return ALIASES.clone();
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return ALIAS;
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return ALIAS;
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return ALIASES.clone();
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return ALIAS;
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return ALIAS;
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        return ALIAS.equals(alias) ? chain.clone() : null;
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        return ALIAS.equals(alias) ? key : null;
    }
}
