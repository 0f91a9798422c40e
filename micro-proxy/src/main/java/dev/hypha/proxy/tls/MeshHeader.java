package dev.hypha.proxy.tls;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * The first bytes a client proxy sends on a mesh connection, right after the TLS handshake: which port of the
 * server's pod the connection is for, and what follows. Layout (big-endian):
 * {@code "HYP" (3 bytes) | version=1 (1) | protocol (1) | port (2) | name length (2) | name (UTF-8, may be empty)}.
 */
public record MeshHeader(Proto protocol, int port, String name) {
    public static final int MAX_NAME = 512;
    private static final int FIXED = 9;

    public enum Proto {
        /** raw bytes follow, relayed to the port. */
        OPAQUE,
        /** an HTTP/2 connection follows (carrying HTTP/2 and HTTP/1 requests). */
        HTTP2,
        /** an HTTP/1.1 connection follows (used for requests that upgrade, such as WebSocket). */
        HTTP1
    }

    public ByteBuf encode(ByteBufAllocator alloc) {
        byte[] n = name == null ? new byte[0] : name.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = alloc.buffer(FIXED + n.length);
        b.writeByte('H').writeByte('Y').writeByte('P').writeByte(1).writeByte(protocol.ordinal())
                .writeShort(port).writeShort(n.length).writeBytes(n);
        return b;
    }

    /** Thrown for bytes that are not a mesh header. */
    public static final class InvalidHeader extends Exception {
        InvalidHeader(String m) {
            super(m);
        }
    }

    /** Decodes a header from the start of {@code buf}, consuming it; null when more bytes are needed. */
    public static MeshHeader decode(ByteBuf buf) throws InvalidHeader {
        if (buf.readableBytes() < FIXED) {
            int n = Math.min(3, buf.readableBytes());
            for (int i = 0; i < n; i++) {
                if (buf.getByte(buf.readerIndex() + i) != "HYP".charAt(i)) {
                    throw new InvalidHeader("not a mesh header");
                }
            }
            return null;
        }
        int r = buf.readerIndex();
        if (buf.getByte(r) != 'H' || buf.getByte(r + 1) != 'Y' || buf.getByte(r + 2) != 'P') {
            throw new InvalidHeader("not a mesh header");
        }
        if (buf.getByte(r + 3) != 1) {
            throw new InvalidHeader("unsupported mesh header version " + buf.getByte(r + 3));
        }
        int proto = buf.getUnsignedByte(r + 4);
        if (proto >= Proto.values().length) {
            throw new InvalidHeader("unknown mesh protocol " + proto);
        }
        int port = buf.getUnsignedShort(r + 5);
        int len = buf.getUnsignedShort(r + 7);
        if (port == 0 || len > MAX_NAME) {
            throw new InvalidHeader("bad mesh header (port " + port + ", name length " + len + ")");
        }
        if (buf.readableBytes() < FIXED + len) {
            return null;
        }
        String name = buf.toString(r + FIXED, len, StandardCharsets.UTF_8);
        buf.skipBytes(FIXED + len);
        return new MeshHeader(Proto.values()[proto], port, name);
    }
}
