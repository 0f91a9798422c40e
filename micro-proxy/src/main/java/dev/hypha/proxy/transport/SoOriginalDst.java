package dev.hypha.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;

/**
 * {@code getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, struct sockaddr_in*, socklen_t*)} through the FFM API, on the file
 * descriptor of an accepted epoll socket. IPv4 only (IPv6 redirection uses IP6T_SO_ORIGINAL_DST; not yet handled).
 */
final class SoOriginalDst implements OrigDstLookup {
    private static final int SOL_IP = 0;
    private static final int SO_ORIGINAL_DST = 80;
    private static final int SOCKADDR_IN_LEN = 16;

    private final MethodHandle getsockopt;
    private final VarHandle errno;

    private SoOriginalDst() {
        Linker linker = Linker.nativeLinker();
        Linker.Option ccs = Linker.Option.captureCallState("errno");
        this.getsockopt = linker.downcallHandle(
                linker.defaultLookup().find("getsockopt").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS),
                ccs);
        this.errno = Linker.Option.captureStateLayout().varHandle(MemoryLayout.PathElement.groupElement("errno"));
    }

    @Override
    public InetSocketAddress lookup(Channel accepted) throws Exception {
        if (!(accepted instanceof EpollSocketChannel ch)) {
            throw new IllegalStateException("SO_ORIGINAL_DST needs the epoll transport, got "
                    + accepted.getClass().getSimpleName());
        }
        int fd = ch.fd().intValue();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = arena.allocate(SOCKADDR_IN_LEN);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            len.set(ValueLayout.JAVA_INT, 0, SOCKADDR_IN_LEN);
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            int rc = (int) getsockopt.invokeExact(state, fd, SOL_IP, SO_ORIGINAL_DST, addr, len);
            if (rc != 0) {
                int e = (int) errno.get(state, 0L);
                throw new IllegalStateException("getsockopt(SO_ORIGINAL_DST) failed, errno " + e
                        + (e == 2 ? " (ENOENT: the connection was not redirected by iptables)" : ""));
            }
            int port = Short.toUnsignedInt(addr.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 2));
            byte[] ip = addr.asSlice(4, 4).toArray(ValueLayout.JAVA_BYTE);
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (Exception e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("getsockopt(SO_ORIGINAL_DST) failed", t);
        }
    }

    /**
     * The lookup the proxy uses: the downcall is made once, by {@link #prepare()} or by the first lookup, whichever
     * comes first. A set-up that fails makes every lookup fail with its cause (the connection is then closed and
     * counted as {@code no_original_destination}) instead of taking the proxy down.
     */
    static final class Deferred implements OrigDstLookup {
        static final Deferred INSTANCE = new Deferred();

        private volatile SoOriginalDst lookup;
        private Throwable failed; // guarded by this

        private Deferred() {
        }

        @Override
        public void prepare() {
            try {
                ready();
            } catch (IllegalStateException e) {
                java.util.logging.Logger.getLogger(SoOriginalDst.class.getName()).warning(e.getMessage());
            }
        }

        @Override
        public InetSocketAddress lookup(Channel accepted) throws Exception {
            return ready().lookup(accepted);
        }

        private SoOriginalDst ready() {
            SoOriginalDst l = lookup;
            if (l != null) {
                return l;
            }
            synchronized (this) {
                if (lookup == null && failed == null) {
                    try {
                        lookup = new SoOriginalDst();
                    } catch (RuntimeException | LinkageError e) {
                        failed = e;
                    }
                }
                if (failed != null) {
                    throw new IllegalStateException("transparent mode cannot read SO_ORIGINAL_DST: the FFM downcall to "
                            + "getsockopt could not be made (" + failed + ")", failed);
                }
                return lookup;
            }
        }
    }
}
