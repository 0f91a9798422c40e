package dev.hypha.proxy;

import dev.hypha.proxy.admin.AdminServer;
import dev.hypha.proxy.config.ConfigParser;
import dev.hypha.proxy.config.HostPort;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.http.Upstreams;
import dev.hypha.proxy.identity.IdentityClient;
import java.io.IOException;
import java.nio.file.Files;
import java.security.cert.X509Certificate;
import java.util.List;
import dev.hypha.proxy.inbound.InboundServer;
import dev.hypha.proxy.metrics.ProxyMetrics;
import dev.hypha.proxy.outbound.OutboundServer;
import dev.hypha.proxy.tls.Credentials;
import dev.hypha.proxy.tls.CredentialStore;
import dev.hypha.proxy.tls.MeshTls;
import dev.hypha.proxy.tls.TlsConfigException;
import dev.hypha.proxy.transport.ConnectionTracker;
import dev.hypha.proxy.transport.OrigDstLookup;
import dev.hypha.proxy.transport.Transports;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslProvider;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * The proxy: wires the runtime, binds the outbound, inbound and admin listeners, and drains them at shutdown.
 */
public final class Proxy {
    private static final Logger LOG = Logger.getLogger(Proxy.class.getName());

    private final ProxyRuntime rt;
    private final Channel outbound;
    private final Channel inbound;
    private final Channel admin;
    private final Channel tap;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();

    private final IdentityClient identity;

    private static void closeAll(Channel out, Channel in, Channel adm, Channel tap, Transports transports) {
        for (Channel c : new Channel[] {out, in, adm, tap}) {
            if (c != null) {
                c.close();
            }
        }
        transports.group().shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }

    private Proxy(ProxyRuntime rt, Channel outbound, Channel inbound, Channel admin, Channel tap,
            IdentityClient identity) {
        this.tap = tap;
        this.rt = rt;
        this.identity = identity;
        this.outbound = outbound;
        this.inbound = inbound;
        this.admin = admin;
    }

    /** Starts a proxy; listeners are bound when this returns. */
    public static Proxy start(ProxyConfig cfg) throws TlsConfigException, InterruptedException {
        return start(cfg, OrigDstLookup.soOriginalDst());
    }

    public static Proxy start(ProxyConfig cfg, OrigDstLookup origDst) throws TlsConfigException, InterruptedException {
        // Two parts of the start-up need nothing from the rest and run beside it, each on a short-lived thread: the
        // identity's key and CSR, and (transparent mode) the SO_ORIGINAL_DST downcall (bench/README.md, "Start to ready").
        FutureTask<IdentityClient.KeyMaterial> keys = null;
        if (cfg.identityAddr() != null) {
            keys = besideStart("hypha-start-key", () -> IdentityClient.KeyMaterial.make(cfg.identityName()));
        }
        if (cfg.mode() == ProxyConfig.Mode.TRANSPARENT) {
            besideStart("hypha-start-origdst", () -> {
                origDst.prepare();
                return null;
            });
        }
        ProxyMetrics metrics = new ProxyMetrics();
        SslProvider provider = MeshTls.provider(cfg.tlsProvider());
        Credentials creds = null;
        if (cfg.identityCertFile() != null) {
            creds = MeshTls.fromFiles(cfg.identityCertFile(), cfg.identityKeyFile(), anchorsOf(cfg),
                    cfg.identityName(), provider);
            metrics.certExpiry.set(creds.notAfter().getEpochSecond(), creds.identity());
        } else if (cfg.identityAddr() == null) {
            LOG.warning("no identity configured (" + ConfigParser.IDENTITY_CERT_FILE + " unset): mTLS is off, "
                    + "meshed destinations are unreachable and inbound mesh connections are refused");
        }
        Transports transports = Transports.create(cfg.transport(), cfg.eventLoopThreads(), "hypha-proxy");
        if (cfg.mode() == ProxyConfig.Mode.TRANSPARENT && !transports.epoll()) {
            LOG.warning("transparent mode needs the epoll transport for SO_ORIGINAL_DST; it is not available");
        }
        CredentialStore store = new CredentialStore(creds);
        ConnectionTracker tracker = new ConnectionTracker();
        io.netty.handler.ssl.SslContext controlTls = null;
        if (!cfg.controlPlaintext() && (cfg.destinationAddr() != null || cfg.identityAddr() != null)) {
            controlTls = ControlTls.context(cfg, provider);
        }
        // The certificate request goes out before the listeners are set up, so that its round trip overlaps theirs.
        IdentityClient identity = null;
        if (keys != null) {
            try {
                List<X509Certificate> anchors = MeshTls.certificates(anchorsOf(cfg), "trust anchors");
                identity = new IdentityClient(cfg.identityName(), cfg.identityAddr(), cfg.identityTokenFile(), anchors,
                        store, metrics, provider, transports, controlTls, cfg.controlIdentity(), keys.get());
            } catch (TlsConfigException e) {
                closeAll(null, null, null, null, transports);
                throw e;
            } catch (ExecutionException e) {
                closeAll(null, null, null, null, transports);
                throw new TlsConfigException("cannot make the identity's key and CSR: " + e.getCause());
            } catch (RuntimeException e) {
                closeAll(null, null, null, null, transports);
                throw new TlsConfigException("cannot start the identity client: " + e.getMessage());
            } catch (InterruptedException e) {
                closeAll(null, null, null, null, transports);
                throw e;
            }
            identity.start();
        }
        dev.hypha.proxy.discovery.DestinationClient discovery = null;
        dev.hypha.proxy.discovery.ProfileClient profiles = null;
        if (cfg.destinationAddr() != null) {
            var loop = transports.group().next();
            var channel = new dev.hypha.proxy.grpc.GrpcChannel(transports, loop, cfg.destinationAddr(), controlTls,
                    cfg.destinationAddr().toString(), cfg.controlIdentity());
            discovery = new dev.hypha.proxy.discovery.DestinationClient(channel, loop, cfg.discoveryIdleTimeout(),
                    cfg.failFastTimeout(), cfg.identityName() == null ? "" : cfg.identityName());
            profiles = new dev.hypha.proxy.discovery.ProfileClient(channel, loop, cfg.discoveryIdleTimeout());
        }
        ProxyRuntime rt = new ProxyRuntime(cfg, transports, metrics, store, tracker, origDst,
                new Upstreams(transports, store, metrics, cfg.connectTimeout(), cfg.http1IdleTimeout(), "outbound"),
                new Upstreams(transports, store, metrics, cfg.connectTimeout(), cfg.http1IdleTimeout(), "inbound"),
                discovery, profiles);
        metrics.registry.gauge("hypha_proxy_accepted_connections", "Downstream connections open now.",
                tracker::size);
        Channel out = null;
        Channel in = null;
        Channel adm = null;
        Channel tap = null;
        Proxy[] self = new Proxy[1];
        metrics.taps.localIdentity(() -> {
            Credentials c = store.current();
            return c == null ? null : c.identity();
        });
        try {
            out = bind(rt, cfg.outboundListen(), new OutboundServer(rt));
            in = bind(rt, cfg.inboundListen(), new InboundServer(rt));
            adm = bind(rt, cfg.adminListen(), new AdminServer(new AdminServer.Hooks() {
                @Override
                public String metrics() {
                    return metrics.registry.scrape();
                }

                @Override
                public java.util.function.BooleanSupplier ready() {
                    return () -> self[0] != null && self[0].ready();
                }

                @Override
                public String configJson() {
                    return ConfigJson.of(cfg, store.current());
                }

                @Override
                public String statsJson() {
                    return StatsJson.of(metrics.stats);
                }

                @Override
                public void shutdown() {
                    Thread t = new Thread(() -> {
                        self[0].shutdown();
                        System.exit(0);
                    }, "hypha-shutdown");
                    t.start();
                }
            }), true);
            tap = bind(rt, cfg.tapListen(), new dev.hypha.proxy.tap.TapServer(metrics.taps, store,
                    cfg.controlIdentity(), metrics, req -> dev.hypha.proxy.tap.StatsAnswer.of(req, metrics.stats,
                            () -> metrics.tcpOpen.with("inbound", "", "").sum(), () -> {
                                Credentials c = store.current();
                                return c == null ? null : c.identity();
                            })), true);
        } catch (RuntimeException | InterruptedException e) {
            if (identity != null) {
                identity.close();
            }
            closeAll(out, in, adm, tap, transports);
            throw e;
        }
        self[0] = new Proxy(rt, out, in, adm, tap, identity);
        LOG.info("hypha-proxy listening: outbound " + out.localAddress() + ", inbound " + in.localAddress()
                + ", admin " + adm.localAddress() + ", tap " + tap.localAddress() + " (mode " + cfg.mode().name().toLowerCase() + ", "
                + (transports.epoll() ? "epoll" : "nio") + ", tls " + provider.name().toLowerCase()
                + (creds != null ? ", identity " + creds.identity() : ", no identity") + ")");
        return self[0];
    }

    /** Runs start-up work on a daemon thread of its own; its result (or failure) is the task's. */
    private static <T> FutureTask<T> besideStart(String name, Callable<T> work) {
        FutureTask<T> task = new FutureTask<>(work);
        Thread.ofPlatform().name(name).daemon().start(task);
        return task;
    }

    private static Channel bind(ProxyRuntime rt, HostPort addr, ChannelHandler init) throws InterruptedException {
        return bind(rt, addr, init, false);
    }

    private static Channel bind(ProxyRuntime rt, HostPort addr, ChannelHandler init, boolean autoRead)
            throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap()
                .group(rt.transports().group())
                .channel(rt.transports().serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, autoRead)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(init);
        try {
            return b.bind(addr.host(), addr.port()).sync().channel();
        } catch (Exception e) {
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            throw new IllegalStateException("cannot listen on " + addr + ": " + e.getMessage(), e);
        }
    }

    public boolean ready() {
        if (stopping.get()) {
            return false;
        }
        if (!rt.config().hasIdentity()) {
            return true;
        }
        Credentials c = rt.credentials().current();
        return c != null && c.notAfter().isAfter(java.time.Instant.now());
    }

    /** The identity client, when certificates come from the control plane (else null). */
    public IdentityClient identityClient() {
        return identity;
    }

    public ProxyRuntime runtime() {
        return rt;
    }

    public InetSocketAddress outboundAddress() {
        return (InetSocketAddress) outbound.localAddress();
    }

    public InetSocketAddress inboundAddress() {
        return (InetSocketAddress) inbound.localAddress();
    }

    public InetSocketAddress tapAddress() {
        return (InetSocketAddress) tap.localAddress();
    }

    public InetSocketAddress adminAddress() {
        return (InetSocketAddress) admin.localAddress();
    }

    /**
     * Graceful shutdown: stop accepting, let in-flight requests and connections finish (HTTP/1 connections close
     * after their current response, HTTP/2 connections get GOAWAY), wait up to the grace period, then close
     * whatever is left. Blocks until done; safe to call more than once.
     */
    public void shutdown() {
        if (!stopping.compareAndSet(false, true)) {
            terminated.join();
            return;
        }
        long deadline = System.nanoTime() + rt.config().shutdownGrace().toNanos();
        LOG.info("shutting down: draining " + rt.tracker().size() + " connection(s), grace "
                + rt.config().shutdownGrace().toSeconds() + "s");
        outbound.close().syncUninterruptibly();
        inbound.close().syncUninterruptibly();
        rt.tracker().drain(OutboundServer::drain);
        while (rt.tracker().size() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        int left = rt.tracker().size();
        if (left > 0) {
            LOG.warning("grace period over: closing " + left + " connection(s) still open");
        }
        if (identity != null) {
            identity.close();
        }
        if (rt.discovery() != null) {
            rt.discovery().close();
        }
        if (rt.profiles() != null) {
            rt.profiles().close();
        }
        rt.outboundUpstreams().close();
        rt.inboundUpstreams().close();
        rt.tracker().closeAll();
        admin.close().syncUninterruptibly();
        tap.close().syncUninterruptibly();
        rt.transports().group().shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        LOG.info("stopped");
        terminated.complete(null);
    }

    public CompletableFuture<Void> terminated() {
        return terminated;
    }

    private static byte[] anchorsOf(ProxyConfig cfg) throws TlsConfigException {
        try {
            return cfg.trustAnchorsBytes();
        } catch (IOException e) {
            throw new TlsConfigException("cannot read the trust anchors: " + e.getMessage());
        }
    }

    /** For tests and for the identity client: reload the credentials from files. */
    public void reloadCredentials(Path cert, Path key, Path anchors) throws TlsConfigException {
        Credentials c = MeshTls.fromFiles(cert, key, anchors, rt.config().identityName(),
                MeshTls.provider(rt.config().tlsProvider()));
        rt.credentials().set(c);
        rt.metrics().certExpiry.set(c.notAfter().getEpochSecond(), c.identity());
    }
}
