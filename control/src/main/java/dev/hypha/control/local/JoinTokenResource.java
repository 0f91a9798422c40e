package dev.hypha.control.local;

import dev.hypha.control.identity.CertifyException;
import dev.hypha.control.identity.Certifier;
import dev.hypha.control.identity.IdentityNames;
import dev.hypha.control.ControlConfig;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.InetAddress;
import java.time.Duration;

/**
 * Local mode: {@code POST /join-tokens?identity=<identity>&ttl=<duration>} on the admin port mints a join token.
 * Only callers on the same machine (loopback) are served.
 */
@Path("/join-tokens")
public class JoinTokenResource {
    private final Certifier certifier;
    private final ControlConfig config;

    public JoinTokenResource(Certifier certifier, ControlConfig config) {
        this.certifier = certifier;
        this.config = config;
    }

    @POST
    @Produces(MediaType.TEXT_PLAIN)
    public Response mint(@QueryParam("identity") String identity, @QueryParam("ttl") String ttl,
            @Context HttpServerRequest request) {
        if (config.mode() != ControlConfig.Mode.local) {
            return Response.status(409).entity("join tokens exist only in local mode; in Kubernetes proxies use their "
                    + "ServiceAccount tokens\n").build();
        }
        if (!fromLoopback(request)) {
            return Response.status(403).entity("join tokens are minted only for callers on this machine\n").build();
        }
        if (IdentityNames.spiffeId(identity, config.trustDomain()) == null) {
            return Response.status(400).entity("identity='" + identity + "' is not valid: expected "
                    + "<sa>.<ns>.serviceaccount.identity." + config.trustDomain() + "\n").build();
        }
        Duration d;
        try {
            d = ttl == null ? Duration.ofHours(24) : Duration.parse("PT" + ttl.toUpperCase());
        } catch (Exception e) {
            return Response.status(400).entity("ttl='" + ttl + "' is not valid: expected a duration such as 30m, 24h\n")
                    .build();
        }
        if (d.isNegative() || d.isZero() || d.compareTo(config.join().maxTtl()) > 0) {
            return Response.status(400).entity("ttl='" + ttl + "' is not valid: expected more than 0 and at most "
                    + config.join().maxTtl() + "\n").build();
        }
        try {
            return Response.ok(certifier.joinTokens().mint(identity, d) + "\n").build();
        } catch (CertifyException e) {
            return Response.status(503).entity(e.getMessage() + "\n").build();
        }
    }

    private static boolean fromLoopback(HttpServerRequest request) {
        try {
            return InetAddress.getByName(request.remoteAddress().host()).isLoopbackAddress();
        } catch (Exception e) {
            return false;
        }
    }
}
