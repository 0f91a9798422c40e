package dev.hypha.control.tap;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.TapFilter;
import dev.hypha.api.v1.TapGrpc;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * {@code Tap.Observe} on the control plane: checks the caller's right to tap the target, opens {@code Observe} on
 * the proxy of each of its meshed pods (the filter plus {@code --to} as authorities or addresses; max_rps shared
 * between them) and merges their events into the caller's stream, each named by its proxy. Tap is lossy by
 * design: events the caller is not ready for are dropped, never queued. The caller cancelling ends every proxy
 * stream.
 */
@GrpcService
public class TapService extends TapGrpc.TapImplBase {
    private static final Logger LOG = Logger.getLogger(TapService.class);

    private final WorkloadSource workloads;
    private final Authorizer authorizer;
    private final ProxyClients proxies;
    private final Counter dropped;

    public TapService(WorkloadSource workloads, Authorizer authorizer, ProxyClients proxies, MeterRegistry registry) {
        this.workloads = workloads;
        this.authorizer = authorizer;
        this.proxies = proxies;
        this.dropped = Counter.builder("hypha.tap.events.dropped")
                .description("Tap events dropped because the caller was not ready for them").register(registry);
    }

    @Override
    @Blocking
    public void observe(ObserveRequest req, StreamObserver<TapEvent> out) {
        ServerCallStreamObserver<TapEvent> caller = (ServerCallStreamObserver<TapEvent>) out;
        List<ProxyPod> pods;
        ObserveRequest toProxy;
        try {
            authorizer.check(BearerInterceptor.TOKEN.get(), "tap", req.getTarget());
            pods = meshedPods(workloads, req.getTarget());
            Selection.To to = Selection.to(workloads, req.getTo(), req.getTarget().getNamespace().isEmpty() ? "default"
                    : req.getTarget().getNamespace());
            TapFilter.Builder f = req.getFilter().toBuilder();
            if (!to.authorities().isEmpty() || !to.addresses().isEmpty()) {
                f.setDirection(Direction.OUTBOUND).addAllAuthorities(to.authorities())
                        .addAllDestinationAddresses(to.addresses());
            }
            int max = req.getMaxRps() == 0 ? 100 : req.getMaxRps();
            if (max > 10_000) {
                throw Status.INVALID_ARGUMENT.withDescription("max_rps " + max + " is too high: at most 10000")
                        .asRuntimeException();
            }
            toProxy = ObserveRequest.newBuilder().setFilter(f).setMaxRps(Math.max(1, (max + pods.size() - 1)
                    / pods.size())).build();
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        }
        Object lock = new Object();
        AtomicInteger live = new AtomicInteger(pods.size());
        List<ClientCall<ObserveRequest, TapEvent>> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
        caller.setOnCancelHandler(() -> calls.forEach(c -> c.cancel("the caller went away", null)));
        List<String> failures = new ArrayList<>();
        for (ProxyPod p : pods) {
            String name = p.namespace() + "/" + p.name();
            ClientCall<ObserveRequest, TapEvent> call;
            try {
                call = proxies.channel(p.tapAddress(), p.identity()).newCall(TapGrpc.getObserveMethod(),
                        io.grpc.CallOptions.DEFAULT);
            } catch (StatusRuntimeException e) {
                out.onError(e);
                calls.forEach(c -> c.cancel("tap failed", null));
                return;
            }
            calls.add(call);
            ClientCalls.asyncServerStreamingCall(call, toProxy, new StreamObserver<>() {
                @Override
                public void onNext(TapEvent e) {
                    synchronized (lock) {
                        if (caller.isCancelled()) {
                            return;
                        }
                        if (!caller.isReady()) {
                            dropped.increment();
                            return;
                        }
                        caller.onNext(e.toBuilder().setProxy(name).build());
                    }
                }

                @Override
                public void onError(Throwable t) {
                    Status s = Status.fromThrowable(t);
                    if (s.getCode() != Status.Code.CANCELLED) {
                        LOG.debugf("tap of %s ended: %s", name, s);
                    }
                    synchronized (lock) {
                        failures.add(name + ": " + s.getCode() + (s.getDescription() == null ? ""
                                : " " + s.getDescription()));
                    }
                    ended();
                }

                @Override
                public void onCompleted() {
                    ended();
                }

                private void ended() {
                    if (live.decrementAndGet() == 0) {
                        synchronized (lock) {
                            if (caller.isCancelled()) {
                                return;
                            }
                            if (failures.isEmpty()) {
                                caller.onCompleted();
                            } else {
                                caller.onError(Status.UNAVAILABLE.withDescription("the proxies' taps ended: "
                                        + String.join("; ", failures)).asRuntimeException());
                            }
                        }
                    }
                }
            });
        }
    }

    /** The meshed pods of a target; FAILED_PRECONDITION when it has pods but none is meshed. */
    static List<ProxyPod> meshedPods(WorkloadSource src, dev.hypha.api.v1.Resource target) {
        List<ProxyPod> out = new ArrayList<>();
        int all = 0;
        for (Selection.Group g : Selection.resolve(src, target)) {
            for (ProxyPod p : g.pods()) {
                all++;
                if (p.meshed()) {
                    out.add(p);
                }
            }
        }
        if (out.isEmpty()) {
            String what = target.getKind() + (target.getName().isEmpty() ? "s" : " " + target.getName());
            throw Status.FAILED_PRECONDITION.withDescription(all == 0 ? "no " + what + " with pods in namespace "
                    + (target.getNamespace().isEmpty() ? "default" : target.getNamespace())
                    : what + " is not meshed (" + all + " pod(s), none runs hypha-proxy): inject it first")
                    .asRuntimeException();
        }
        return out;
    }
}
