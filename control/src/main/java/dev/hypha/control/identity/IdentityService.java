package dev.hypha.control.identity;

import com.google.protobuf.ByteString;
import dev.hypha.api.v1.CertifyRequest;
import dev.hypha.api.v1.CertifyResponse;
import dev.hypha.api.v1.Identity;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;

/** The gRPC face of {@link Certifier}: thin, maps failures to precise statuses. Signing runs off the event loop. */
@GrpcService
public class IdentityService implements Identity {
    private final Certifier certifier;

    public IdentityService(Certifier certifier) {
        this.certifier = certifier;
    }

    @Override
    @Blocking
    public Uni<CertifyResponse> certify(CertifyRequest req) {
        try {
            Certifier.Issued i = certifier.certify(req.getIdentity(), req.getToken().toByteArray(),
                    req.getCertificateSigningRequest().toByteArray());
            CertifyResponse.Builder b = CertifyResponse.newBuilder()
                    .setLeafCertificate(ByteString.copyFrom(i.leaf().getEncoded()))
                    .setValidUntilUnixSeconds(i.leaf().getNotAfter().toInstant().getEpochSecond());
            for (X509Certificate c : i.issuer().chain()) {
                b.addIntermediateCertificates(ByteString.copyFrom(c.getEncoded()));
            }
            for (X509Certificate c : i.issuer().anchors()) {
                b.addTrustAnchors(ByteString.copyFrom(c.getEncoded()));
            }
            return Uni.createFrom().item(b.build());
        } catch (CertifyException e) {
            return Uni.createFrom().failure(Status.fromCode(e.code()).withDescription(e.getMessage()).asRuntimeException());
        } catch (CertificateEncodingException e) {
            return Uni.createFrom().failure(Status.INTERNAL.withDescription("cannot encode certificate").asRuntimeException());
        }
    }
}
