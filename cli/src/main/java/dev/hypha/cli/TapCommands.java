package dev.hypha.cli;

import dev.hypha.api.v1.Direction;
import dev.hypha.api.v1.ObserveRequest;
import dev.hypha.api.v1.TapEvent;
import dev.hypha.api.v1.TapFilter;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code hypha tap} and {@code hypha top}: a live Tap.Observe through the control plane. */
final class TapCommands {
    private TapCommands() {
    }

    abstract static class Base extends VizCommand {
        @Option(names = "--to", paramLabel = "RESOURCE", description = "only requests sent to this resource")
        String to;

        @Option(names = "--method", paramLabel = "M", description = "only this HTTP method")
        String method;

        @Option(names = "--path", paramLabel = "PREFIX", description = "only paths starting with this")
        String path;

        @Option(names = "--authority", paramLabel = "A", description = "only this authority (host or host:port)")
        String authority;

        @Option(names = "--direction", paramLabel = "DIR", description = "inbound or outbound (default: both)")
        String direction;

        @Option(names = "--max-rps", paramLabel = "N", defaultValue = "100",
                description = "most requests tapped per second (default: ${DEFAULT-VALUE})")
        int maxRps;

        @Option(names = "--duration", paramLabel = "DURATION", description = "stop after this long (e.g. 10s; "
                + "default: until Ctrl-C)")
        String duration;

        ObserveRequest request() {
            if (maxRps < 1 || maxRps > 10_000) {
                throw new Hypha.UserException("--max-rps " + maxRps + " is not valid: 1 to 10000", Hypha.USAGE);
            }
            TapFilter.Builder f = TapFilter.newBuilder();
            if (method != null) {
                f.setMethod(method.toUpperCase(java.util.Locale.ROOT));
            }
            if (path != null) {
                if (!path.startsWith("/")) {
                    throw new Hypha.UserException("--path " + path + " is not a path prefix: it starts with /",
                            Hypha.USAGE);
                }
                f.setPathPrefix(path);
            }
            if (authority != null) {
                f.addAuthorities(authority);
            }
            if (direction != null) {
                f.setDirection(switch (direction) {
                    case "inbound", "in" -> Direction.INBOUND;
                    case "outbound", "out" -> Direction.OUTBOUND;
                    default -> throw new Hypha.UserException("--direction " + direction
                            + " is not valid: inbound or outbound", Hypha.USAGE);
                });
            }
            ObserveRequest.Builder b = ObserveRequest.newBuilder().setTarget(target()).setFilter(f).setMaxRps(maxRps);
            if (to != null) {
                b.setTo(ResourceArg.parse(to, viz.namespace, false));
            }
            return b.build();
        }

        /** Runs the tap; hands every event to {@code sink}; {@code tick} runs about every second. */
        int run(java.util.function.Consumer<TapEvent> sink, Runnable tick) {
            ObserveRequest req = request();
            long deadline = duration == null ? Long.MAX_VALUE : System.nanoTime() + parseDuration(duration).toNanos();
            try (ControlConnection c = ControlConnection.open(viz)) {
                LinkedBlockingQueue<Object> q = new LinkedBlockingQueue<>(100_000);
                ClientCall<ObserveRequest, TapEvent> call = ClientInterceptors.intercept(c.channel, c.credentials)
                        .newCall(Rpc.OBSERVE, CallOptions.DEFAULT);
                ClientCalls.asyncServerStreamingCall(call, req, new StreamObserver<>() {
                    @Override
                    public void onNext(TapEvent e) {
                        q.offer(e);
                    }

                    @Override
                    public void onError(Throwable t) {
                        q.offer(t);
                    }

                    @Override
                    public void onCompleted() {
                        q.offer(END);
                    }
                });
                Thread hook = new Thread(() -> call.cancel("interrupted", null));
                Runtime.getRuntime().addShutdownHook(hook);
                try {
                    long nextTick = System.nanoTime() + 1_000_000_000L;
                    while (true) {
                        long now = System.nanoTime();
                        if (now >= deadline) {
                            call.cancel("duration over", null);
                            return Hypha.OK;
                        }
                        long wait = Math.min(deadline, nextTick) - now;
                        Object o = q.poll(Math.max(1, wait), TimeUnit.NANOSECONDS);
                        if (System.nanoTime() >= nextTick) {
                            tick.run();
                            nextTick = System.nanoTime() + 1_000_000_000L;
                        }
                        if (o == null) {
                            continue;
                        }
                        if (o instanceof TapEvent e) {
                            sink.accept(e);
                        } else if (o instanceof StatusRuntimeException e) {
                            throw c.explain(e);
                        } else if (o instanceof Throwable t) {
                            throw new Hypha.UserException("the tap ended: " + t, Hypha.FAILED);
                        } else {
                            return Hypha.OK;
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    call.cancel("interrupted", null);
                    return Hypha.OK;
                } finally {
                    try {
                        Runtime.getRuntime().removeShutdownHook(hook);
                    } catch (IllegalStateException e) {
                        // shutting down already
                    }
                }
            }
        }
    }

    static final Object END = new Object();

    static Duration parseDuration(String d) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m|h)").matcher(d.trim());
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new Hypha.UserException("--duration " + d + " is not valid: e.g. 500ms, 10s, 2m", Hypha.USAGE);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }

    /** Whether standard output is a terminal (Console.isTerminal on JDK 22+, else whether there is a console). */
    static boolean onTerminal() {
        java.io.Console c = System.console();
        if (c == null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }

    @Command(name = "tap", description = "Live requests of a meshed resource, one line per event (req, rsp, end).")
    static final class Tap extends Base {
        @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "wide or json (one object per line)")
        String output;

        @Override
        public Integer call() {
            checkFormat(output);
            PrintWriter out = spec.commandLine().getOut();
            Render.TapIds ids = new Render.TapIds();
            int rc = run(e -> {
                out.println("json".equals(output) ? Render.tapJson(e) : Render.tapLine(e, ids, "wide".equals(output)));
                out.flush();
            }, () -> { });
            out.flush();
            return rc;
        }
    }

    @Command(name = "top", description = "The busiest paths of a meshed resource, live (a table refreshed in place "
            + "on a terminal; plain tables every --interval when piped).")
    static final class Top extends Base {
        @Option(names = "--rows", paramLabel = "N", defaultValue = "20", description = "rows shown (default: ${DEFAULT-VALUE})")
        int rows;

        @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "2s",
                description = "how often the table is printed when not on a terminal (default: ${DEFAULT-VALUE})")
        String interval;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Render.Top top = new Render.Top();
            boolean terminal = onTerminal();
            long every = parseDuration(interval).toNanos();
            long[] next = {System.nanoTime() + every};
            int rc = run(top::add, () -> {
                if (terminal) {
                    out.print("\u001b[H\u001b[2J" + top.render(rows).text());
                    out.flush();
                } else if (System.nanoTime() >= next[0]) {
                    out.println(top.render(rows).text());
                    out.flush();
                    next[0] = System.nanoTime() + every;
                }
            });
            out.print(top.render(rows).text());
            out.flush();
            return rc;
        }
    }
}
