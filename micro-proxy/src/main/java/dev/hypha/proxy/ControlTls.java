package dev.hypha.proxy;

import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.tls.MeshTls;
import dev.hypha.proxy.tls.TlsConfigException;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Files;
import java.security.cert.X509Certificate;

/**
 * TLS to the control plane: the proxy trusts its configured trust anchors and expects the control plane's
 * identity ({@code HYPHA_PROXY_CONTROL_IDENTITY}); gRPC wants ALPN {@code h2}. The proxy presents no certificate
 * here: it may not have one yet (it is asking for it), and its token authenticates it.
 */
final class ControlTls {
    private ControlTls() {
    }

    static SslContext context(ProxyConfig cfg, SslProvider provider) throws TlsConfigException {
        try {
            X509Certificate[] anchors = MeshTls.certificates(cfg.trustAnchorsBytes(), "trust anchors")
                    .toArray(X509Certificate[]::new);
            return SslContextBuilder.forClient().sslProvider(provider).trustManager(anchors)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_2))
                    .build();
        } catch (TlsConfigException e) {
            throw e;
        } catch (Exception e) {
            throw new TlsConfigException("cannot set up TLS to the control plane: " + e.getMessage());
        }
    }
}
