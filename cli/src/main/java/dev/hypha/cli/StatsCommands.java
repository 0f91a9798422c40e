package dev.hypha.cli;

import dev.hypha.api.v1.Resource;
import dev.hypha.api.v1.StatsRequest;
import dev.hypha.api.v1.StatsResponse;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code hypha stat}, {@code routes} and {@code edges}: one Stats.Get through the control plane, one table. */
final class StatsCommands {
    private StatsCommands() {
    }

    /** What the three share: the window, the format, the call. */
    abstract static class Base extends VizCommand {
        @Option(names = "--window", paramLabel = "DURATION", defaultValue = "1m",
                description = "how far back: 10s to 1m in steps of 10s (default: ${DEFAULT-VALUE})")
        String window;

        @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "wide or json")
        String output;

        abstract String render(StatsResponse r, boolean wide);

        Resource to() {
            return Resource.getDefaultInstance();
        }

        @Override
        public Integer call() {
            checkFormat(output);
            Resource target = target();
            StatsRequest req = StatsRequest.newBuilder().setTarget(target).setTo(to())
                    .setWindowSeconds(windowSeconds(window)).build();
            StatsResponse r;
            try (ControlConnection c = ControlConnection.open(viz)) {
                try {
                    r = ClientCalls.blockingUnaryCall(ClientInterceptors.intercept(c.channel, c.credentials),
                            Rpc.STATS, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), req);
                } catch (StatusRuntimeException e) {
                    throw c.explain(e);
                }
            }
            PrintWriter out = spec.commandLine().getOut();
            out.print(render(r, "wide".equals(output)));
            out.flush();
            return Hypha.OK;
        }

        String format(Render.Tab t) {
            return "json".equals(output) ? t.json() : t.text();
        }
    }

    static int windowSeconds(String w) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)(s|m)").matcher(w.trim());
        if (m.matches()) {
            int s = Integer.parseInt(m.group(1)) * (m.group(2).equals("m") ? 60 : 1);
            if (s >= 10 && s <= 60 && s % 10 == 0) {
                return s;
            }
        }
        throw new Hypha.UserException("--window " + w + " is not valid: 10s, 20s, ... 60s or 1m (proxies keep the "
                + "last minute in 10-second buckets)", Hypha.USAGE);
    }

    /** stat and routes: what the resource sends to a service, instead of what it serves. */
    abstract static class WithTo extends Base {
        @Option(names = "--to", paramLabel = "RESOURCE", description = "only the traffic the resource sends to this "
                + "service (svc/<name>)")
        String toArg;

        @Override
        Resource to() {
            return toArg == null ? Resource.getDefaultInstance() : ResourceArg.parse(toArg, viz.namespace, false);
        }
    }

    @Command(name = "stat", description = "Success rate, request rate and latency of meshed resources, from the "
            + "proxies' own statistics (no Prometheus needed).")
    static final class Stat extends WithTo {
        @Override
        String render(StatsResponse r, boolean wide) {
            return format(Render.stat(r, viz.allNamespaces, toArg != null));
        }
    }

    @Command(name = "routes", description = "Per-route success rate, request rate and latency (ServiceProfile routes "
            + "and [DEFAULT]) of the traffic a resource serves, or sends to --to.")
    static final class Routes extends WithTo {
        @Override
        String render(StatsResponse r, boolean wide) {
            return format(Render.routes(r, toArg != null, wide));
        }
    }

    @Command(name = "edges", description = "Which resources talk to which, and whether with mTLS (wide: the "
            + "identities proven).")
    static final class Edges extends Base {
        @Override
        String render(StatsResponse r, boolean wide) {
            return format(Render.edges(r, wide));
        }
    }
}
