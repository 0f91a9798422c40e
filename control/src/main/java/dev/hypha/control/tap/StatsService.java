package dev.hypha.control.tap;

import dev.hypha.api.v1.Edge;
import dev.hypha.api.v1.Series;
import dev.hypha.api.v1.StatsGrpc;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import dev.hypha.api.v1.WorkloadStats;
import dev.hypha.control.ControlConfig;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * {@code Stats.Get} on the control plane: checks the caller's right, asks the proxy of every meshed pod of the
 * target for its statistics (in parallel, each within {@code stats-timeout}), and merges them per resource: series
 * with the same direction, authority and route are summed (histograms bucket by bucket), edges likewise; pods
 * whose proxy did not answer are not counted as meshed. With {@code to} (a service), only the target's outbound
 * series to that service are kept.
 */
@GrpcService
public class StatsService extends StatsGrpc.StatsImplBase {
    private static final Logger LOG = Logger.getLogger(StatsService.class);

    private final WorkloadSource workloads;
    private final Authorizer authorizer;
    private final ProxyClients proxies;
    private final ControlConfig config;
    private final dev.hypha.control.destination.ServiceSource services;

    public StatsService(WorkloadSource workloads, Authorizer authorizer, ProxyClients proxies, ControlConfig config,
            dev.hypha.control.destination.ServiceSource services) {
        this.services = services;
        this.workloads = workloads;
        this.authorizer = authorizer;
        this.proxies = proxies;
        this.config = config;
    }

    @Override
    @Blocking
    public void get(StatsRequest req, StreamObserver<StatsResponse> out) {
        try {
            out.onNext(answer(req));
            out.onCompleted();
        } catch (StatusRuntimeException e) {
            out.onError(e);
        }
    }

    StatsResponse answer(StatsRequest req) {
        authorizer.check(BearerInterceptor.TOKEN.get(), "get", req.getTarget());
        int window = req.getWindowSeconds() == 0 ? 60 : req.getWindowSeconds();
        if (window < 10 || window > 60 || window % 10 != 0) {
            throw Status.INVALID_ARGUMENT.withDescription("window " + window + "s is not valid: a multiple of 10 s from "
                    + "10 s to 60 s (proxies keep the last minute in 10-second buckets)").asRuntimeException();
        }
        List<Selection.Group> groups = Selection.resolve(workloads, req.getTarget());
        Selection.To to = Selection.to(workloads, req.getTo(), req.getTarget().getNamespace().isEmpty() ? "default"
                : req.getTarget().getNamespace());
        if (!to.addresses().isEmpty()) {
            throw Status.INVALID_ARGUMENT.withDescription("--to for statistics takes a service (svc/<name>): proxies "
                    + "keep statistics by the authority they were asked for").asRuntimeException();
        }
        StatsRequest toProxy = StatsRequest.newBuilder().setWindowSeconds(window).build();
        Map<ProxyPod, java.util.concurrent.Future<StatsResponse>> asked = new LinkedHashMap<>();
        for (Selection.Group g : groups) {
            for (ProxyPod p : g.pods()) {
                if (p.meshed()) {
                    asked.put(p, ask(p, toProxy));
                }
            }
        }
        StatsResponse.Builder resp = StatsResponse.newBuilder().setWindowSeconds(window);
        boolean bounds = false;
        for (Selection.Group g : groups) {
            WorkloadStats.Builder w = WorkloadStats.newBuilder().setResource(g.resource()).setPods(g.pods().size());
            Map<String, Series.Builder> series = new LinkedHashMap<>();
            Map<String, Edge.Builder> edges = new LinkedHashMap<>();
            int meshed = 0;
            for (ProxyPod p : g.pods()) {
                var f = asked.get(p);
                if (f == null) {
                    continue;
                }
                StatsResponse r;
                try {
                    r = f.get(config.statsTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
                } catch (Exception e) {
                    LOG.debugf("stats of %s/%s: %s", p.namespace(), p.name(), e.toString());
                    continue;
                }
                meshed++;
                // the proxies' buckets share wall-clock boundaries, so their spans agree but for clock skew and the
                // milliseconds between their answers (unless a bucket boundary passed between two answers)
                resp.setSpanMillis(Math.max(resp.getSpanMillis(), r.getSpanMillis()));
                if (!bounds) {
                    resp.addAllLatencyBoundsMs(r.getLatencyBoundsMsList());
                    bounds = true;
                }
                for (WorkloadStats ws : r.getWorkloadsList()) {
                    w.setTcpOpenConnections(w.getTcpOpenConnections() + ws.getTcpOpenConnections());
                    if (!ws.getIdentity().isEmpty()) {
                        w.setIdentity(ws.getIdentity());
                    }
                    for (Series s : ws.getSeriesList()) {
                        if (!to.authorities().isEmpty() && (s.getDirection() != dev.hypha.api.v1.Direction.OUTBOUND
                                || !hostMatches(to.authorities(), s.getAuthority()))) {
                            continue;
                        }
                        String key = s.getDirection() + "|" + s.getAuthority() + "|" + s.getRoute();
                        Series.Builder sum = series.get(key);
                        if (sum == null) {
                            series.put(key, s.toBuilder());
                        } else {
                            add(sum, s);
                        }
                    }
                    for (Edge e : ws.getEdgesList()) {
                        String key = e.getDirection() + "|" + e.getPeerAddress() + "|" + e.getClientIdentity() + "|"
                                + e.getServerIdentity() + "|" + e.getSecured();
                        Edge.Builder sum = edges.get(key);
                        if (sum == null) {
                            edges.put(key, e.toBuilder());
                        } else {
                            sum.setRequests(sum.getRequests() + e.getRequests());
                        }
                    }
                }
            }
            w.setMeshedPods(meshed);
            addIdleRoutes(series);
            series.values().forEach(w::addSeries);
            edges.values().forEach(w::addEdges);
            resp.addWorkloads(w);
        }
        return resp.build();
    }

    private java.util.concurrent.Future<StatsResponse> ask(ProxyPod p, StatsRequest req) {
        try {
            return StatsGrpc.newFutureStub(proxies.channel(p.tapAddress(), p.identity()))
                    .withDeadlineAfter(config.statsTimeout().toMillis(), TimeUnit.MILLISECONDS).get(req);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
                throw e;
            }
            return java.util.concurrent.CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Routes of the ServiceProfiles of the authorities seen, with no traffic in the window, as zero rows: a route
     * that gets no requests is something to see too.
     */
    private void addIdleRoutes(Map<String, Series.Builder> series) {
        Map<String, dev.hypha.api.v1.Direction> seen = new LinkedHashMap<>();
        for (Series.Builder s : series.values()) {
            seen.putIfAbsent(s.getDirection() + "|" + s.getAuthority(), s.getDirection());
        }
        for (var e : seen.entrySet()) {
            String authority = e.getKey().substring(e.getKey().indexOf('|') + 1);
            if (!authority.matches("[A-Za-z0-9.-]+:[0-9]{1,5}")) {
                continue;
            }
            var profile = services.get(authority).profile();
            if (profile == null) {
                continue;
            }
            for (var route : profile.getRoutesList()) {
                String key = e.getValue() + "|" + authority + "|" + route.getName();
                series.putIfAbsent(key, Series.newBuilder().setDirection(e.getValue()).setAuthority(authority)
                        .setRoute(route.getName()));
            }
        }
    }

    static void add(Series.Builder sum, Series s) {
        sum.setSuccess(sum.getSuccess() + s.getSuccess()).setFailure(sum.getFailure() + s.getFailure())
                .setActualSuccess(sum.getActualSuccess() + s.getActualSuccess())
                .setActualFailure(sum.getActualFailure() + s.getActualFailure());
        List<Long> a = new ArrayList<>(sum.getLatencyBucketsList());
        List<Long> b = s.getLatencyBucketsList();
        for (int i = 0; i < b.size(); i++) {
            if (i < a.size()) {
                a.set(i, a.get(i) + b.get(i));
            } else {
                a.add(b.get(i));
            }
        }
        sum.clearLatencyBuckets().addAllLatencyBuckets(a);
    }

    static boolean hostMatches(List<String> hosts, String authority) {
        int colon = authority.lastIndexOf(':');
        String host = colon > 0 ? authority.substring(0, colon) : authority;
        return hosts.stream().anyMatch(h -> h.equalsIgnoreCase(host) || h.equalsIgnoreCase(authority));
    }
}
