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
        if (args.length > 0 && (args[0].equals("await") || args[0].equals("wait-before-exit"))) {
            System.exit(dev.hypha.proxy.admin.Await.run(args, System.getenv(ConfigParser.ADMIN_LISTEN_ADDR)));
            return;
        }
        if (args.length > 0) {
            System.err.println("hypha-proxy: unknown argument '" + args[0] + "': expected none (configure with "
                    + "HYPHA_PROXY_* variables), 'await [timeout]' or 'wait-before-exit <duration>'");
            System.exit(2);
            return;
        }
        if (System.getProperty("io.netty.leakDetection.level") == null) {
            // Leak detection samples buffers and records a stack trace for each sampled one: measurable CPU on
            // every request (bench/README.md). Tests run with paranoid detection; a pod can turn it back on with
            // -Dio.netty.leakDetection.level=simple in proxy-jvm-options.
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
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
        // The hook is in place before the listeners open: a SIGTERM that arrives while the proxy is still starting
        // (its ports already accepting) waits for the start to finish and then drains, instead of ending the JVM
        // under requests already in flight.
        java.util.concurrent.CompletableFuture<Proxy> started = new java.util.concurrent.CompletableFuture<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Proxy p;
            try {
                p = started.get(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                return; // a start that never finished has nothing to drain
            }
            if (p != null) {
                p.shutdown();
            }
        }, "hypha-sigterm"));
        Proxy proxy;
        try {
            proxy = Proxy.start(cfg);
        } catch (TlsConfigException e) {
            started.complete(null);
            System.err.println("hypha-proxy: identity: " + e.getMessage());
            System.exit(2);
            return;
        } catch (IllegalStateException e) {
            started.complete(null);
            System.err.println("hypha-proxy: " + e.getMessage());
            System.exit(1);
            return;
        } catch (InterruptedException e) {
            started.complete(null);
            Thread.currentThread().interrupt();
            return;
        } catch (RuntimeException | Error e) {
            started.complete(null);
            throw e;
        }
        started.complete(proxy);
        proxy.terminated().join();
    }
}
