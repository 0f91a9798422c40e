package dev.hypha.proxy.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.File;

/**
 * The floor of a JVM proxy, for the benchmark (bench/run.sh): a byte relay with nothing but what any Netty proxy on
 * this JVM needs — one epoll event loop, BoringSSL TLS 1.3 with client certificates, pooled buffers, a flush per
 * read batch. No HTTP, no routing, no metrics. Two of them in the Hypha pair's topology show how much of the pair's
 * latency and CPU the JVM, Netty and TLS already cost before the proxy does any work of its own.
 *
 * <pre>TlsRelayFloor out|in LISTEN_PORT TARGET_PORT CERT KEY ANCHORS</pre>
 * {@code out} accepts plaintext and connects to 127.0.0.1:TARGET_PORT with TLS; {@code in} accepts TLS (client
 * certificate required) and connects in plaintext.
 */
public final class TlsRelayFloor {
    private TlsRelayFloor() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6 || !(args[0].equals("out") || args[0].equals("in"))) {
            System.err.println("usage: TlsRelayFloor out|in LISTEN_PORT TARGET_PORT CERT KEY ANCHORS");
            System.exit(2);
        }
        boolean out = args[0].equals("out");
        int listen;
        int target;
        try {
            listen = Integer.parseInt(args[1]);
            target = Integer.parseInt(args[2]);
        } catch (NumberFormatException e) {
            System.err.println("TlsRelayFloor: LISTEN_PORT and TARGET_PORT must be port numbers, got '" + args[1]
                    + "' and '" + args[2] + "'");
            System.exit(2);
            return;
        }
        File cert = new File(args[3]);
        File key = new File(args[4]);
        File anchors = new File(args[5]);
        // Netty hands a key from files to BoringSSL through a key store; its default type (PKCS#12) encrypts the
        // key with PBKDF2 on the way in and out, ~150 ms of a starting JVM that no proxy needs (the proxy hands its
        // key over directly). JKS's key protection is a few hashes.
        SslContext tls = out
                ? SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3")
                        .keyManager(cert, key).keyStoreType("JKS").trustManager(anchors).build()
                : SslContextBuilder.forServer(cert, key).sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3")
                        .keyStoreType("JKS").trustManager(anchors).clientAuth(ClientAuth.REQUIRE).build();
        EventLoopGroup loop = new EpollEventLoopGroup(1);
        new ServerBootstrap().group(loop).channel(EpollServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel down) {
                        if (!out) {
                            down.pipeline().addLast(tls.newHandler(down.alloc()));
                        }
                        Relay toUp = new Relay(null);
                        down.pipeline().addLast(toUp);
                        new Bootstrap().group(down.eventLoop()).channel(EpollSocketChannel.class)
                                .option(ChannelOption.TCP_NODELAY, true)
                                .handler(new ChannelInitializer<Channel>() {
                                    @Override
                                    protected void initChannel(Channel up) {
                                        if (out) {
                                            up.pipeline().addLast(tls.newHandler(up.alloc(), "127.0.0.1", target));
                                        }
                                        up.pipeline().addLast(new Relay(down));
                                    }
                                })
                                .connect("127.0.0.1", target).addListener((ChannelFutureListener) f -> {
                                    if (!f.isSuccess()) {
                                        down.close();
                                        return;
                                    }
                                    toUp.connected(f.channel());
                                    down.config().setAutoRead(true);
                                });
                    }
                })
                .bind("127.0.0.1", listen).sync();
        System.out.println("relay " + args[0] + " listening on 127.0.0.1:" + listen);
    }

    /**
     * Writes what one side reads to the other, flushed once per read batch; either side closing closes both. What
     * arrives before the other side is connected (a TLS 1.3 client may send data with its Finished) waits for it.
     */
    private static final class Relay extends ChannelInboundHandlerAdapter {
        private Channel peer;
        private java.util.ArrayDeque<Object> early;
        private boolean closed;

        Relay(Channel peer) {
            this.peer = peer;
        }

        void connected(Channel p) {
            peer = p;
            if (closed) {
                p.close();
                return;
            }
            if (early != null) {
                early.forEach(m -> p.write(m, p.voidPromise()));
                early = null;
                p.flush();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (peer == null) {
                if (early == null) {
                    early = new java.util.ArrayDeque<>();
                }
                early.add(msg);
                return;
            }
            peer.write(msg, peer.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (peer != null) {
                peer.flush();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closed = true;
            if (early != null) {
                early.forEach(io.netty.util.ReferenceCountUtil::release);
                early = null;
            }
            if (peer != null) {
                peer.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
