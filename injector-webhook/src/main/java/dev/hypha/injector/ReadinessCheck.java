package dev.hypha.injector;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready once the real serving certificate is served and the webhook's caBundle names its CA, and the mesh config is known. */
@Readiness
@ApplicationScoped
public class ReadinessCheck implements HealthCheck {
    private final ServingCertificate cert;
    private final MeshState mesh;

    public ReadinessCheck(ServingCertificate cert, MeshState mesh) {
        this.cert = cert;
        this.mesh = mesh;
    }

    @Override
    public HealthCheckResponse call() {
        var b = HealthCheckResponse.named("hypha-injector");
        if (!cert.ready()) {
            return b.down().withData("serving-certificate", String.valueOf(cert.problem())).build();
        }
        if (mesh.mesh() == null) {
            return b.down().withData("mesh-config", mesh.problem()).build();
        }
        return b.up().build();
    }
}
