package dev.hypha.control.identity;

import dev.hypha.control.ControlConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jboss.logging.Logger;

/**
 * The issuer certificate, key and trust anchors, read from files (a mounted {@code kubernetes.io/tls} Secret and a
 * ConfigMap, or local files) and re-read when they change. A missing, broken or expired issuer never crashes the
 * control plane: {@link #current()} reports it, Certify answers UNAVAILABLE, and one WARN line says what is wrong.
 */
@ApplicationScoped
public class IssuerSource {
    private static final Logger LOG = Logger.getLogger(IssuerSource.class);

    private final ControlConfig config;
    private final Clock clock;
    private volatile IssuerState state = IssuerState.broken("not loaded yet");
    private volatile String fingerprint = "";
    private volatile long lastCheckNanos;
    private volatile String lastLogged;

    @jakarta.inject.Inject
    public IssuerSource(ControlConfig config) {
        this(config, Clock.systemUTC());
    }

    IssuerSource(ControlConfig config, Clock clock) {
        this.config = config;
        this.clock = clock;
    }

    /** The issuer, re-read from disk when the files changed (checked at most once per reload interval). */
    public IssuerState current() {
        long now = System.nanoTime();
        if (now - lastCheckNanos >= config.issuer().reloadInterval().toNanos() || lastCheckNanos == 0) {
            synchronized (this) {
                if (now - lastCheckNanos >= config.issuer().reloadInterval().toNanos() || lastCheckNanos == 0) {
                    lastCheckNanos = now;
                    reloadIfChanged();
                }
            }
        }
        IssuerState s = state;
        if (s.usable() && s.cert().getNotAfter().toInstant().isBefore(clock.instant())) {
            return report(IssuerState.broken("the issuer certificate expired at " + s.cert().getNotAfter().toInstant()
                    + "; rotate it (hypha install --rotate-issuer, or cert-manager)"));
        }
        return s;
    }

    private void reloadIfChanged() {
        var ic = config.issuer();
        if ((ic.certFile().isEmpty() || ic.keyFile().isEmpty() || ic.trustAnchorsFile().isEmpty())
                && config.stateDir().isPresent()) {
            Path dir = config.stateDir().get();
            try {
                if (dev.hypha.control.local.LocalCa.ensure(dir, config.trustDomain())) {
                    LOG.info("generated a local trust anchor and issuer in " + dir + " (trust anchors: "
                            + dir.resolve("root.crt") + ")");
                }
            } catch (Exception e) {
                state = report(IssuerState.broken("cannot make a local issuer in " + dir + ": " + e.getMessage()));
                return;
            }
            String fp = fingerprint(dir.resolve("issuer.crt"), dir.resolve("issuer.key"), dir.resolve("root.crt"));
            if (fp.equals(fingerprint) && state.usable()) {
                return;
            }
            fingerprint = fp;
            state = report(load(dir.resolve("issuer.crt"), dir.resolve("issuer.key"), dir.resolve("root.crt"),
                    clock.instant()));
            return;
        }
        if (ic.certFile().isEmpty() || ic.keyFile().isEmpty() || ic.trustAnchorsFile().isEmpty()) {
            state = report(IssuerState.broken("no issuer configured: set hypha.control.issuer.cert-file, key-file "
                    + "and trust-anchors-file (HYPHA_CONTROL_ISSUER_CERT_FILE, ...)"));
            return;
        }
        String fp = fingerprint(ic.certFile().get(), ic.keyFile().get(), ic.trustAnchorsFile().get());
        if (fp.equals(fingerprint) && state.usable()) {
            return;
        }
        fingerprint = fp;
        state = report(load(ic.certFile().get(), ic.keyFile().get(), ic.trustAnchorsFile().get(), clock.instant()));
    }

    private static String fingerprint(Path... files) {
        StringBuilder sb = new StringBuilder();
        for (Path p : files) {
            try {
                sb.append(Files.getLastModifiedTime(p).toMillis()).append('/').append(Files.size(p)).append(';');
            } catch (Exception e) {
                sb.append("missing;");
            }
        }
        return sb.toString();
    }

    /** Loads and checks an issuer; never throws. */
    public static IssuerState load(Path certFile, Path keyFile, Path anchorsFile, Instant now) {
        List<X509Certificate> chain;
        List<X509Certificate> anchors;
        PrivateKey key;
        try {
            chain = Pem.certificates(Files.readAllBytes(certFile));
        } catch (Exception e) {
            return IssuerState.broken("cannot read the issuer certificate " + certFile + ": " + e.getMessage());
        }
        try {
            anchors = Pem.certificates(Files.readAllBytes(anchorsFile));
        } catch (Exception e) {
            return IssuerState.broken("cannot read the trust anchors " + anchorsFile + ": " + e.getMessage());
        }
        try {
            key = Pem.privateKey(Files.readString(keyFile));
        } catch (Exception e) {
            return IssuerState.broken("cannot read the issuer key " + keyFile + ": " + e.getMessage());
        }
        X509Certificate cert = chain.get(0);
        if (cert.getBasicConstraints() < 0) {
            return IssuerState.broken("the issuer certificate " + cert.getSubjectX500Principal()
                    + " is not a CA (basicConstraints CA:TRUE is required)");
        }
        if (cert.getNotAfter().toInstant().isBefore(now)) {
            return IssuerState.broken("the issuer certificate expired at " + cert.getNotAfter().toInstant());
        }
        if (cert.getNotBefore().toInstant().isAfter(now)) {
            return IssuerState.broken("the issuer certificate is not valid before " + cert.getNotBefore().toInstant());
        }
        if (!keyMatches(key, cert)) {
            return IssuerState.broken("the issuer key does not belong to the issuer certificate");
        }
        if (!chainsToAnchor(chain, anchors)) {
            return IssuerState.broken("the issuer certificate does not chain to any of the " + anchors.size()
                    + " trust anchor(s); check the trust anchors file");
        }
        List<X509Certificate> up = new ArrayList<>(chain);
        up.removeIf(c -> anchors.stream().anyMatch(a -> a.equals(c)));
        return new IssuerState(cert, key, List.copyOf(up), List.copyOf(anchors), null);
    }

    private static boolean keyMatches(PrivateKey key, X509Certificate cert) {
        try {
            String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            byte[] probe = "hypha".getBytes();
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (Exception e) {
            return false;
        }
    }

    private static boolean chainsToAnchor(List<X509Certificate> chain, List<X509Certificate> anchors) {
        X509Certificate top = chain.get(chain.size() - 1);
        for (X509Certificate a : anchors) {
            if (a.equals(top)) {
                return true;
            }
            try {
                top.verify(a.getPublicKey());
                return true;
            } catch (Exception ignored) {
                // try the next anchor
            }
        }
        return false;
    }

    private IssuerState report(IssuerState s) {
        String msg = s.usable() ? "issuer loaded: " + s.cert().getSubjectX500Principal() + ", valid until "
                + s.cert().getNotAfter().toInstant() + ", " + s.anchors().size() + " trust anchor(s)" : s.problem();
        if (!Objects.equals(msg, lastLogged)) {
            lastLogged = msg;
            if (s.usable()) {
                LOG.info(msg);
            } else {
                LOG.warn("identity issuer unavailable: " + msg);
            }
        }
        return s;
    }
}
