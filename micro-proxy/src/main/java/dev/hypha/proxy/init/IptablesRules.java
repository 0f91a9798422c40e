package dev.hypha.proxy.init;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The iptables rules that send a pod's TCP through its proxy, as the {@code hypha-init} container writes them
 * (and as the network-namespace tests write them: one builder for both). All rules live in the nat table:
 * <ul>
 *   <li>{@code HYPHA_INBOUND} (from PREROUTING): the proxy's own tap and admin ports and configured skip ports
 *       return; every other TCP connection to the pod is redirected to the inbound port.</li>
 *   <li>{@code HYPHA_OUTBOUND} (from OUTPUT): the proxy's own UID returns (its connections leave as they are),
 *       loopback returns, skipped ports and subnets return; every other TCP connection is redirected to the
 *       outbound port.</li>
 * </ul>
 */
public record IptablesRules(int proxyUid, int inboundPort, int outboundPort, Set<Integer> proxyPorts,
        Set<Integer> skipInboundPorts, Set<Integer> skipOutboundPorts, List<String> skipOutboundSubnets) {

    public static final String INBOUND_CHAIN = "HYPHA_INBOUND";
    public static final String OUTBOUND_CHAIN = "HYPHA_OUTBOUND";

    public IptablesRules {
        Objects.requireNonNull(proxyPorts, "proxyPorts");
        proxyPorts = Set.copyOf(proxyPorts);
        skipInboundPorts = Set.copyOf(skipInboundPorts);
        skipOutboundPorts = Set.copyOf(skipOutboundPorts);
        skipOutboundSubnets = List.copyOf(skipOutboundSubnets);
    }

    /** Linkerd-compatible defaults: UID 2102, inbound 4143, outbound 4140, tap 4190 and admin 4191 never redirected. */
    public static IptablesRules defaults() {
        return new IptablesRules(2102, 4143, 4140, Set.of(4190, 4191), Set.of(), Set.of(), List.of());
    }

    /** The argument lists to pass to {@code iptables}, in order. */
    public List<List<String>> commands() {
        List<List<String>> out = new ArrayList<>();
        out.add(List.of("-t", "nat", "-N", INBOUND_CHAIN));
        for (int p : new TreeSet<>(union(proxyPorts, skipInboundPorts))) {
            out.add(List.of("-t", "nat", "-A", INBOUND_CHAIN, "-p", "tcp", "--dport", Integer.toString(p), "-j",
                    "RETURN", "-m", "comment", "--comment", "hypha: skip inbound port"));
        }
        out.add(List.of("-t", "nat", "-A", INBOUND_CHAIN, "-p", "tcp", "-j", "REDIRECT", "--to-ports",
                Integer.toString(inboundPort), "-m", "comment", "--comment", "hypha: to inbound proxy"));
        out.add(List.of("-t", "nat", "-A", "PREROUTING", "-j", INBOUND_CHAIN));

        out.add(List.of("-t", "nat", "-N", OUTBOUND_CHAIN));
        out.add(List.of("-t", "nat", "-A", OUTBOUND_CHAIN, "-m", "owner", "--uid-owner", Integer.toString(proxyUid),
                "-j", "RETURN", "-m", "comment", "--comment", "hypha: the proxy's own traffic"));
        out.add(List.of("-t", "nat", "-A", OUTBOUND_CHAIN, "-o", "lo", "-j", "RETURN", "-m", "comment", "--comment",
                "hypha: loopback"));
        for (int p : new TreeSet<>(skipOutboundPorts)) {
            out.add(List.of("-t", "nat", "-A", OUTBOUND_CHAIN, "-p", "tcp", "--dport", Integer.toString(p), "-j",
                    "RETURN", "-m", "comment", "--comment", "hypha: skip outbound port"));
        }
        for (String net : skipOutboundSubnets) {
            out.add(List.of("-t", "nat", "-A", OUTBOUND_CHAIN, "-d", net, "-j", "RETURN", "-m", "comment",
                    "--comment", "hypha: skip outbound subnet"));
        }
        out.add(List.of("-t", "nat", "-A", OUTBOUND_CHAIN, "-p", "tcp", "-j", "REDIRECT", "--to-ports",
                Integer.toString(outboundPort), "-m", "comment", "--comment", "hypha: to outbound proxy"));
        out.add(List.of("-t", "nat", "-A", "OUTPUT", "-j", OUTBOUND_CHAIN));
        return out;
    }

    private static Set<Integer> union(Set<Integer> a, Set<Integer> b) {
        Set<Integer> s = new TreeSet<>(a);
        s.addAll(b);
        return s;
    }
}
