package dev.hypha.proxy.detect;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of a TLS ClientHello that decide whether the inbound proxy terminates a connection: the SNI host name
 * and the ALPN protocols. {@link #parse} reads without consuming and never throws on malformed input.
 */
public record ClientHello(String serverName, List<String> alpn) {
    /** The largest ClientHello we buffer (a record is at most 16 KiB; several records are allowed). */
    public static final int MAX_BYTES = 16384 + 5;

    public enum Status { COMPLETE, NEED_MORE, INVALID }

    public record Result(Status status, ClientHello hello) {
        static final Result NEED_MORE = new Result(Status.NEED_MORE, null);
        static final Result INVALID = new Result(Status.INVALID, null);
    }

    /** Parses the handshake message carried by one or more TLS records at the start of {@code buf}. */
    public static Result parse(ByteBuf buf) {
        int pos = buf.readerIndex();
        int end = buf.writerIndex();
        // Reassemble the handshake message from records, without copying until it is complete.
        byte[] msg = null;
        int have = 0;
        int need = -1;
        while (true) {
            if (end - pos < 5) {
                return Result.NEED_MORE;
            }
            if (buf.getByte(pos) != 0x16 || buf.getByte(pos + 1) != 3) {
                return Result.INVALID;
            }
            int len = buf.getUnsignedShort(pos + 3);
            if (len == 0 || len > 16384 + 2048) {
                return Result.INVALID;
            }
            if (end - pos - 5 < len) {
                return (pos - buf.readerIndex()) + 5 + len > MAX_BYTES * 2 ? Result.INVALID : Result.NEED_MORE;
            }
            if (msg == null) {
                if (len < 4 || buf.getByte(pos + 5) != 1) {
                    return Result.INVALID; // not a ClientHello
                }
                need = 4 + buf.getUnsignedMedium(pos + 6);
                if (need > MAX_BYTES) {
                    return Result.INVALID;
                }
                msg = new byte[need];
            }
            int take = Math.min(len, need - have);
            buf.getBytes(pos + 5, msg, have, take);
            have += take;
            pos += 5 + len;
            if (have == need) {
                break;
            }
        }
        try {
            return new Result(Status.COMPLETE, parseBody(msg));
        } catch (IndexOutOfBoundsException e) {
            return Result.INVALID;
        }
    }

    private static ClientHello parseBody(byte[] m) {
        int p = 4;                 // handshake type + length
        p += 2 + 32;               // client_version, random
        p += 1 + u8(m, p);         // session id
        p += 2 + u16(m, p);        // cipher suites
        p += 1 + u8(m, p);         // compression methods
        if (p == m.length) {
            return new ClientHello(null, List.of());
        }
        int extEnd = p + 2 + u16(m, p);
        p += 2;
        if (extEnd > m.length) {
            throw new IndexOutOfBoundsException();
        }
        String sni = null;
        List<String> alpn = new ArrayList<>(2);
        while (p + 4 <= extEnd) {
            int type = u16(m, p);
            int len = u16(m, p + 2);
            int body = p + 4;
            if (body + len > extEnd) {
                throw new IndexOutOfBoundsException();
            }
            if (type == 0 && len >= 2) {               // server_name
                int q = body + 2;
                int listEnd = Math.min(body + 2 + u16(m, body), body + len);
                while (q + 3 <= listEnd) {
                    int nameType = u8(m, q);
                    int nameLen = u16(m, q + 1);
                    if (q + 3 + nameLen > listEnd) {
                        throw new IndexOutOfBoundsException();
                    }
                    if (nameType == 0 && sni == null) {
                        sni = new String(m, q + 3, nameLen, StandardCharsets.US_ASCII);
                    }
                    q += 3 + nameLen;
                }
            } else if (type == 16 && len >= 2) {      // application_layer_protocol_negotiation
                int q = body + 2;
                int listEnd = Math.min(body + 2 + u16(m, body), body + len);
                while (q + 1 <= listEnd) {
                    int l = u8(m, q);
                    if (q + 1 + l > listEnd) {
                        throw new IndexOutOfBoundsException();
                    }
                    alpn.add(new String(m, q + 1, l, StandardCharsets.US_ASCII));
                    q += 1 + l;
                }
            }
            p = body + len;
        }
        return new ClientHello(sni, List.copyOf(alpn));
    }

    private static int u8(byte[] m, int p) {
        if (p >= m.length) {
            throw new IndexOutOfBoundsException();
        }
        return m[p] & 0xff;
    }

    private static int u16(byte[] m, int p) {
        return (u8(m, p) << 8) | u8(m, p + 1);
    }
}
