package dev.hypha.proxy;

import dev.hypha.proxy.config.Durations;
import dev.hypha.proxy.config.MeshDestination;
import dev.hypha.proxy.config.ProxyConfig;
import dev.hypha.proxy.tls.Credentials;
import java.util.Map;

/** The effective configuration as JSON, for {@code /config}. File paths are shown; no key material ever is. */
final class ConfigJson {
    private ConfigJson() {
    }

    static String of(ProxyConfig c, Credentials creds) {
        StringBuilder sb = new StringBuilder(1024).append("{\n");
        field(sb, "mode", c.mode().name().toLowerCase());
        field(sb, "outboundListenAddr", c.outboundListen());
        field(sb, "inboundListenAddr", c.inboundListen());
        field(sb, "adminListenAddr", c.adminListen());
        field(sb, "outboundTarget", c.outboundTarget());
        field(sb, "inboundTarget", c.inboundTarget());
        field(sb, "inboundAppHost", c.inboundAppHost());
        sb.append("  \"opaquePorts\": ").append(c.opaquePorts()).append(",\n");
        field(sb, "detectTimeout", Durations.format(c.detectTimeout()));
        field(sb, "connectTimeout", Durations.format(c.connectTimeout()));
        field(sb, "shutdownGrace", Durations.format(c.shutdownGrace()));
        field(sb, "http1IdleTimeout", Durations.format(c.http1IdleTimeout()));
        sb.append("  \"maxHeaderBytes\": ").append(c.maxHeaderBytes()).append(",\n");
        sb.append("  \"maxInitialLineBytes\": ").append(c.maxInitialLineBytes()).append(",\n");
        field(sb, "identityCertFile", c.identityCertFile());
        field(sb, "identityKeyFile", c.identityKeyFile());
        field(sb, "trustAnchorsFile", c.trustAnchorsFile());
        field(sb, "trustAnchors", c.trustAnchorsPem() == null ? null : "(inline PEM)");
        field(sb, "identityAddr", c.identityAddr());
        field(sb, "identityTokenFile", c.identityTokenFile());
        field(sb, "identity", creds == null ? null : creds.identity());
        field(sb, "destinationAddr", c.destinationAddr());
        field(sb, "discoveryIdleTimeout", Durations.format(c.discoveryIdleTimeout()));
        field(sb, "failFastTimeout", Durations.format(c.failFastTimeout()));
        field(sb, "certificateNotAfter", creds == null ? null : creds.notAfter());
        field(sb, "inboundPolicy", c.inboundPolicy().text());
        sb.append("  \"destinations\": {");
        boolean first = true;
        for (Map.Entry<String, MeshDestination> e : c.destinations().entrySet()) {
            sb.append(first ? "\n" : ",\n").append("    ").append(q(e.getKey())).append(": ")
                    .append(q(e.getValue().endpoint() + (e.getValue().meshed() ? "@" + e.getValue().identity() : "")));
            first = false;
        }
        sb.append(first ? "},\n" : "\n  },\n");
        field(sb, "logLevel", c.logLevel());
        sb.append("  \"eventLoopThreads\": ").append(c.eventLoopThreads()).append(",\n");
        field(sb, "transport", c.transport().name().toLowerCase());
        sb.append("  \"tlsProvider\": ").append(q(c.tlsProvider().name().toLowerCase())).append("\n}\n");
        return sb.toString();
    }

    private static void field(StringBuilder sb, String name, Object v) {
        sb.append("  ").append(q(name)).append(": ").append(v == null ? "null" : q(v.toString())).append(",\n");
    }

    private static String q(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') {
                b.append('\\').append(ch);
            } else if (ch < 0x20) {
                b.append(String.format("\\u%04x", (int) ch));
            } else {
                b.append(ch);
            }
        }
        return b.append('"').toString();
    }
}
