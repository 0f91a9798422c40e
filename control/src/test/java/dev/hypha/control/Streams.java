package dev.hypha.control;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.hypha.api.v1.DestinationGrpc;
import dev.hypha.api.v1.DestinationProfile;
import dev.hypha.api.v1.GetDestination;
import dev.hypha.api.v1.Update;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Collects what a server stream sends (tests): items and errors in queues, read with a deadline. */
public record Streams<T>(BlockingQueue<T> items, BlockingQueue<Throwable> errors) implements StreamObserver<T> {
    public Streams() {
        this(new LinkedBlockingQueue<>(), new LinkedBlockingQueue<>());
    }

    /** Opens {@code Destination.Get(target)}. */
    public static Streams<Update> get(Channel channel, String target) {
        Streams<Update> s = new Streams<>();
        DestinationGrpc.newStub(channel).get(GetDestination.newBuilder().setPath(target).build(), s);
        return s;
    }

    /** Opens {@code Destination.GetProfile(target)}. */
    public static Streams<DestinationProfile> profile(Channel channel, String target) {
        Streams<DestinationProfile> s = new Streams<>();
        DestinationGrpc.newStub(channel).getProfile(GetDestination.newBuilder().setPath(target).build(), s);
        return s;
    }

    /** The next item, waiting up to 10 s (failing the test when none comes). */
    public T next() throws InterruptedException {
        T t = items.poll(10, TimeUnit.SECONDS);
        assertNotNull(t, "nothing from the stream within 10 s");
        return t;
    }

    @Override
    public void onNext(T value) {
        items.add(value);
    }

    @Override
    public void onError(Throwable t) {
        errors.add(t);
    }

    @Override
    public void onCompleted() {
    }
}
