package dev.hypha.proxy.detect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.hypha.proxy.tls.MeshHeader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;

class MeshHeaderTest {
    @Test
    void roundTripsAndNeedsMoreUntilComplete() throws Exception {
        MeshHeader h = new MeshHeader(MeshHeader.Proto.HTTP2, 8080, "web.shop.svc.cluster.local:8080");
        ByteBuf enc = h.encode(UnpooledByteBufAllocator.DEFAULT);
        enc.writeBytes(new byte[] {1, 2, 3}); // what follows the header stays
        try {
            for (int i = 0; i < enc.readableBytes() - 3; i++) {
                ByteBuf part = enc.slice(0, i);
                assertNull(MeshHeader.decode(part), "prefix " + i);
                assertEquals(0, part.readerIndex(), "an incomplete header consumes nothing");
            }
            assertEquals(h, MeshHeader.decode(enc));
            assertEquals(3, enc.readableBytes());
        } finally {
            enc.release();
        }
    }

    @Test
    void rejectsWhatIsNotAHeader() {
        for (byte[] bad : new byte[][] {
            "GET / HTTP/1.1\r\n".getBytes(),
            {'H', 'Y', 'P', 9, 0, 0, 80, 0, 0},          // version 9
            {'H', 'Y', 'P', 1, 7, 0, 80, 0, 0},          // protocol 7
            {'H', 'Y', 'P', 1, 0, 0, 0, 0, 0},           // port 0
            {'H', 'Y', 'P', 1, 0, 0, 80, (byte) 0xff, (byte) 0xff}, // name too long
            {'H', 'X'}}) {
            ByteBuf b = Unpooled.wrappedBuffer(bad);
            assertThrows(MeshHeader.InvalidHeader.class, () -> MeshHeader.decode(b));
        }
    }
}
