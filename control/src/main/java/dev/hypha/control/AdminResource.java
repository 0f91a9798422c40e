package dev.hypha.control;

import dev.hypha.control.destination.ServiceSource;
import dev.hypha.control.identity.IssuerSource;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** {@code /ready}: 200 once the issuer is usable and the service source has loaded (informer caches synced). */
@Path("/ready")
public class AdminResource {
    private final IssuerSource issuer;
    private final ServiceSource source;

    public AdminResource(IssuerSource issuer, ServiceSource source) {
        this.issuer = issuer;
        this.source = source;
    }

    @GET
    @Produces(MediaType.TEXT_PLAIN)
    public Response ready() {
        var s = issuer.current();
        if (!s.usable()) {
            return Response.status(503).entity("not ready: identity issuer unavailable: " + s.problem() + "\n").build();
        }
        if (!source.ready()) {
            return Response.status(503).entity("not ready: service discovery has not loaded yet\n").build();
        }
        return Response.ok("ready\n").build();
    }
}
