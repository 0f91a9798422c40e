package dev.hypha.proxy;

import dev.hypha.proxy.admin.Logging;
import dev.hypha.proxy.config.ConfigException;
import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.tls.TlsConfigException;

/** {@code hypha-proxy}: reads {@code HYPHA_PROXY_*} from the environment, starts, and drains on SIGTERM. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        if (System.getProperty("java.util.logging.manager") == null) {
            System.setProperty("java.util.logging.manager", "dev.hypha.proxy.admin.KeepAliveLogManager");
        }
        ProxyConfig cfg;
        try {
            cfg = ConfigParser.parse(System.getenv());
        } catch (ConfigException e) {
            System.err.println("hypha-proxy: " + e.getMessage());
            System.exit(2);
            return;
        }
        Logging.configure(cfg.logLevel());
        Proxy proxy;
        try {
            proxy = Proxy.start(cfg);
        } catch (TlsConfigException e) {
            System.err.println("hypha-proxy: identity: " + e.getMessage());
            System.exit(2);
            return;
        } catch (IllegalStateException e) {
            System.err.println("hypha-proxy: " + e.getMessage());
            System.exit(1);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(proxy::shutdown, "hypha-sigterm"));
        proxy.terminated().join();
    }
}
