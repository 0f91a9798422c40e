package dev.hypha.proxy.detect;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * Classifies a connection from its first bytes, without consuming them. Pure and allocation-free: it is called on
 * every accepted connection (and fuzzed).
 *
 * <ul>
 *   <li>HTTP/2: the prior-knowledge preface {@code PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n}.</li>
 *   <li>HTTP/1: a request line {@code METHOD SP request-target SP HTTP/1.x CRLF} (RFC 9112 §3).</li>
 *   <li>TLS: a handshake record header (content type 22, version 3.x).</li>
 *   <li>anything else: opaque. {@link Protocol#NEED_MORE} while the bytes so far could still be either.</li>
 * </ul>
 */
public final class ProtocolDetector {
    static final byte[] H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    /** The longest request line we wait for before calling the connection opaque. */
    public static final int MAX_PEEK = 8192;

    private ProtocolDetector() {
    }

    public static Protocol detect(ByteBuf buf) {
        int start = buf.readerIndex();
        int n = buf.readableBytes();
        if (n == 0) {
            return Protocol.NEED_MORE;
        }
        byte first = buf.getByte(start);
        if (first == 0x16) {
            if (n < 3) {
                return Protocol.NEED_MORE;
            }
            return buf.getByte(start + 1) == 3 ? Protocol.TLS : Protocol.OPAQUE;
        }
        if (first == 'P') {
            int m = Math.min(n, H2_PREFACE.length);
            boolean prefix = true;
            for (int i = 0; i < m; i++) {
                if (buf.getByte(start + i) != H2_PREFACE[i]) {
                    prefix = false;
                    break;
                }
            }
            if (prefix) {
                return m == H2_PREFACE.length ? Protocol.HTTP2 : Protocol.NEED_MORE;
            }
        }
        return http1RequestLine(buf, start, Math.min(n, MAX_PEEK));
    }

    /** Checks {@code token SP target SP HTTP/1.d CRLF}; OPAQUE as soon as a byte rules it out. */
    private static Protocol http1RequestLine(ByteBuf buf, int start, int n) {
        int i = 0;
        // method: 1..20 token characters (RFC 9110 tchar; methods are upper-case in practice, but any token is legal)
        while (i < n && isTchar(buf.getByte(start + i))) {
            i++;
            if (i > 20) {
                return Protocol.OPAQUE;
            }
        }
        if (i == n) {
            return n < MAX_PEEK ? Protocol.NEED_MORE : Protocol.OPAQUE;
        }
        if (i == 0 || buf.getByte(start + i) != ' ') {
            return Protocol.OPAQUE;
        }
        i++;
        int targetStart = i;
        while (i < n) {
            byte b = buf.getByte(start + i);
            if (b == ' ') {
                break;
            }
            if (b <= 0x20 || b == 0x7f) {
                return Protocol.OPAQUE;
            }
            i++;
        }
        if (i == n) {
            return n < MAX_PEEK ? Protocol.NEED_MORE : Protocol.OPAQUE;
        }
        if (i == targetStart) {
            return Protocol.OPAQUE;
        }
        i++;
        // "HTTP/1.x\r\n"
        final byte[] version = {'H', 'T', 'T', 'P', '/', '1', '.'};
        for (byte v : version) {
            if (i == n) {
                return Protocol.NEED_MORE;
            }
            if (buf.getByte(start + i) != v) {
                return Protocol.OPAQUE;
            }
            i++;
        }
        if (i == n) {
            return Protocol.NEED_MORE;
        }
        byte minor = buf.getByte(start + i);
        if (minor != '0' && minor != '1') {
            return Protocol.OPAQUE;
        }
        i++;
        if (i == n) {
            return Protocol.NEED_MORE;
        }
        byte cr = buf.getByte(start + i);
        if (cr == '\n') {
            return Protocol.HTTP1; // bare LF: the HTTP/1 decoder decides whether to accept it
        }
        if (cr != '\r') {
            return Protocol.OPAQUE;
        }
        i++;
        if (i == n) {
            return Protocol.NEED_MORE;
        }
        return buf.getByte(start + i) == '\n' ? Protocol.HTTP1 : Protocol.OPAQUE;
    }

    private static boolean isTchar(byte b) {
        if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
            return true;
        }
        return switch (b) {
            case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~' -> true;
            default -> false;
        };
    }
}
