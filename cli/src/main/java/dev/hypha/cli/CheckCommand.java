package dev.hypha.cli;

import dev.hypha.inject.Injector;
import dev.hypha.inject.Install;
import dev.hypha.inject.Mesh;
import dev.hypha.inject.MeshValues;
import dev.hypha.inject.Pki;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "check", description = {
    "Check that Hypha is installed and healthy (exit 1 when a check fails; warnings do not fail).",
    "--pre checks that the cluster is ready for hypha install; --proxy also checks the data plane's proxies."})
final class CheckCommand implements Callable<Integer> {
    static final Duration EXPIRY_WARNING = Duration.ofDays(60);
    static final String INJECTOR_TLS_SECRET = "hypha-injector-tls";

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    KubeOptions kube;

    @Option(names = "--pre", description = "before installing: API access and permissions")
    boolean pre;

    @Option(names = "--proxy", description = "also check the data plane's proxies")
    boolean proxy;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS",
            description = "--proxy: only this namespace's pods (default: all)")
    String namespace;

    /** Tests move the clock to see expiry warnings. */
    static Clock clock = Clock.systemUTC();

    enum Status { OK, WARN, FAIL }

    private final List<Status> results = new ArrayList<>();
    private PrintWriter out;

    @Override
    public Integer call() {
        out = spec.commandLine().getOut();
        KubernetesClient c;
        category("kubernetes-api");
        try {
            c = kube.client();
            report("can initialize the client", Status.OK, null, null);
        } catch (Hypha.UserException e) {
            report("can initialize the client", Status.FAIL, e.getMessage(),
                    "set --kubeconfig / --context, or KUBECONFIG");
            return summary();
        }
        try (c) {
            VersionInfo v;
            try {
                v = c.getKubernetesVersion();
                report("can query the Kubernetes API", Status.OK, null, null);
            } catch (Exception e) {
                report("can query the Kubernetes API", Status.FAIL, oneLine(e),
                        "is the cluster up and the kubeconfig's server reachable from here?");
                return summary();
            }
            int minor = minor(v);
            report("is running Kubernetes 1.23 or later", minor >= 23 ? Status.OK : Status.FAIL,
                    "the API server is " + v.getGitVersion(), "upgrade the cluster");
            report("supports native sidecars (1.29+)", minor >= 29 ? Status.OK : Status.WARN,
                    "the API server is " + v.getGitVersion() + ": proxies are classic sidecars",
                    "native sidecars fix Jobs that never finish and start-up order; upgrade to 1.29+");
            if (pre) {
                preInstall(c);
            } else {
                installed(c);
                if (proxy) {
                    dataPlane(c);
                }
            }
        }
        return summary();
    }

    private void preInstall(KubernetesClient c) {
        category("pre-install");
        boolean exists = c.namespaces().withName(Mesh.NAMESPACE).get() != null;
        report("the " + Mesh.NAMESPACE + " namespace does not exist yet", exists ? Status.FAIL : Status.OK,
                Mesh.NAMESPACE + " exists", "Hypha looks installed already: run hypha check instead");
        // {group, resource, namespaced?}
        String[][] needs = {{"", "namespaces", "no"}, {"rbac.authorization.k8s.io", "clusterroles", "no"},
            {"rbac.authorization.k8s.io", "clusterrolebindings", "no"},
            {"apiextensions.k8s.io", "customresourcedefinitions", "no"},
            {"admissionregistration.k8s.io", "mutatingwebhookconfigurations", "no"}, {"", "serviceaccounts", "yes"},
            {"rbac.authorization.k8s.io", "roles", "yes"}, {"apps", "deployments", "yes"}, {"", "secrets", "yes"},
            {"", "configmaps", "yes"}, {"", "services", "yes"}, {"policy", "poddisruptionbudgets", "yes"}};
        for (String[] n : needs) {
            String what = "can create " + n[1];
            try {
                SelfSubjectAccessReview r = c.authorization().v1().selfSubjectAccessReview().create(
                        new SelfSubjectAccessReviewBuilder().withNewSpec().withNewResourceAttributes()
                                .withGroup(n[0]).withResource(n[1]).withVerb("create")
                                .withNamespace(n[2].equals("yes") ? Mesh.NAMESPACE : null)
                                .endResourceAttributes().endSpec().build());
                boolean allowed = r.getStatus() != null && Boolean.TRUE.equals(r.getStatus().getAllowed());
                report(what, allowed ? Status.OK : Status.FAIL, "the API server did not allow it",
                        "install as a cluster administrator");
            } catch (Exception e) {
                report(what, Status.FAIL, oneLine(e), "install as a cluster administrator");
            }
        }
    }

    private void installed(KubernetesClient c) {
        category("hypha-crds");
        CustomResourceDefinition crd = c.apiextensions().v1().customResourceDefinitions()
                .withName("serviceprofiles.hypha.dev").get();
        report("the ServiceProfile CRD exists", crd == null ? Status.FAIL : Status.OK,
                "no customresourcedefinition serviceprofiles.hypha.dev",
                "hypha install --crds | kubectl apply -f -");
        if (crd != null) {
            boolean v1alpha1 = crd.getSpec().getVersions().stream()
                    .anyMatch(v -> v.getName().equals("v1alpha1") && Boolean.TRUE.equals(v.getServed()));
            report("the ServiceProfile CRD serves v1alpha1", v1alpha1 ? Status.OK : Status.FAIL,
                    "v1alpha1 is not served", "hypha install --crds | kubectl apply -f -");
        }

        category("hypha-existence");
        boolean ns = c.namespaces().withName(Mesh.NAMESPACE).get() != null;
        report("the " + Mesh.NAMESPACE + " namespace exists", ns ? Status.OK : Status.FAIL,
                "no namespace " + Mesh.NAMESPACE, "hypha install | kubectl apply -f -");
        if (!ns) {
            return;
        }
        for (String role : List.of("hypha-control", "hypha-injector")) {
            boolean ok = c.rbac().clusterRoles().withName(role).get() != null
                    && c.rbac().clusterRoleBindings().withName(role).get() != null
                    && c.serviceAccounts().inNamespace(Mesh.NAMESPACE).withName(role).get() != null;
            report(role + "'s ServiceAccount, ClusterRole and binding exist", ok ? Status.OK : Status.FAIL,
                    "missing", "hypha install | kubectl apply -f -");
        }
        ConfigMap cm = c.configMaps().inNamespace(Mesh.NAMESPACE).withName(Mesh.CONFIG_MAP).get();
        Mesh mesh = null;
        String cmProblem = "no ConfigMap " + Mesh.CONFIG_MAP;
        if (cm != null) {
            try {
                mesh = Mesh.fromConfigMapData(cm.getData());
            } catch (MeshValues.InvalidValuesException e) {
                cmProblem = e.getMessage();
            }
        }
        report("the mesh configuration (" + Mesh.CONFIG_MAP + ") is valid", mesh != null ? Status.OK : Status.FAIL,
                cmProblem, "re-run hypha install | kubectl apply -f -");
        deploymentReady(c, "hypha-control", "the control plane");
        deploymentReady(c, "hypha-injector", "the injector");

        category("hypha-identity");
        identity(c, mesh);

        category("hypha-webhook");
        webhook(c);
    }

    private void deploymentReady(KubernetesClient c, String name, String what) {
        Deployment d = c.apps().deployments().inNamespace(Mesh.NAMESPACE).withName(name).get();
        if (d == null) {
            report(what + " is ready", Status.FAIL, "no Deployment " + name, "hypha install | kubectl apply -f -");
            return;
        }
        int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
        int ready = d.getStatus() == null || d.getStatus().getReadyReplicas() == null ? 0
                : d.getStatus().getReadyReplicas();
        Status s = ready == 0 ? Status.FAIL : ready < want ? Status.WARN : Status.OK;
        report(what + " is ready", s, ready + " of " + want + " " + name + " replicas ready",
                "kubectl -n " + Mesh.NAMESPACE + " describe deployment " + name + "; kubectl -n " + Mesh.NAMESPACE
                        + " logs deploy/" + name);
    }

    private void identity(KubernetesClient c, Mesh mesh) {
        Instant now = clock.instant();
        List<X509Certificate> anchors = null;
        if (mesh != null) {
            try {
                anchors = Pki.certificates(mesh.trustAnchorsPem(), "the trust anchors");
            } catch (IllegalArgumentException e) {
                report("the trust anchors are valid", Status.FAIL, e.getMessage(), "re-run hypha install");
            }
        }
        if (anchors != null) {
            X509Certificate first = soonest(anchors);
            report("the trust anchors are valid now", valid(anchors, now) ? Status.OK : Status.FAIL,
                    "a trust anchor is expired or not yet valid", "rotate the trust anchor (docs/install.md)");
            expiry("the trust anchors", first, now);
        } else {
            report("the trust anchors are valid", Status.FAIL, "no usable trust anchors in " + Mesh.CONFIG_MAP,
                    "re-run hypha install");
        }
        Secret s = c.secrets().inNamespace(Mesh.NAMESPACE).withName(Install.ISSUER_SECRET).get();
        X509Certificate issuer = null;
        PrivateKey key = null;
        String problem = "no Secret " + Install.ISSUER_SECRET;
        if (s != null && s.getData() != null) {
            try {
                issuer = Pki.certificates(decode(s.getData().get("tls.crt")), "tls.crt").get(0);
                key = Pki.privateKey(decode(s.getData().get("tls.key")), "tls.key");
            } catch (IllegalArgumentException e) {
                problem = e.getMessage();
                issuer = null;
            }
        }
        report("the issuer certificate and key are readable", issuer != null && key != null ? Status.OK : Status.FAIL,
                problem, "re-create " + Install.ISSUER_SECRET + " (hypha install, or cert-manager)");
        if (issuer == null || key == null) {
            return;
        }
        report("the issuer key belongs to the issuer certificate", Pki.matches(issuer, key) ? Status.OK : Status.FAIL,
                "tls.key does not match tls.crt", "re-create " + Install.ISSUER_SECRET);
        boolean valid = !now.isBefore(issuer.getNotBefore().toInstant()) && now.isBefore(issuer.getNotAfter().toInstant());
        report("the issuer certificate is valid now", valid ? Status.OK : Status.FAIL,
                "valid from " + issuer.getNotBefore().toInstant() + " to " + issuer.getNotAfter().toInstant(),
                "rotate the issuer (docs/install.md)");
        expiry("the issuer certificate", issuer, now);
        if (anchors != null) {
            X509Certificate iss = issuer;
            report("the issuer is signed by a trust anchor", anchors.stream().anyMatch(a -> Pki.signedBy(iss, a))
                    ? Status.OK : Status.FAIL, "no trust anchor in " + Mesh.CONFIG_MAP + " signed it",
                    "proxies would reject every certificate: re-issue the issuer from the anchor");
        }
    }

    private void expiry(String what, X509Certificate cert, Instant now) {
        Instant end = cert.getNotAfter().toInstant();
        long days = Duration.between(now, end).toDays();
        report(what + " " + (what.endsWith("s") ? "are" : "is") + " valid for at least 60 days",
                end.isAfter(now.plus(EXPIRY_WARNING)) ? Status.OK : Status.WARN,
                "expires on " + end + " (in " + days + " days)", "rotate it before then (docs/install.md)");
    }

    private void webhook(KubernetesClient c) {
        MutatingWebhookConfiguration mw = c.admissionRegistration().v1().mutatingWebhookConfigurations()
                .withName("hypha-injector").get();
        report("the MutatingWebhookConfiguration exists", mw == null ? Status.FAIL : Status.OK,
                "no mutatingwebhookconfiguration hypha-injector", "hypha install | kubectl apply -f -");
        if (mw == null) {
            return;
        }
        X509Certificate ca = null;
        String problem = "caBundle is empty: the injector has not written it yet";
        for (MutatingWebhook w : mw.getWebhooks()) {
            String b = w.getClientConfig() == null ? null : w.getClientConfig().getCaBundle();
            if (b == null || b.isEmpty()) {
                ca = null;
                break;
            }
            try {
                ca = Pki.certificates(decode(b), "caBundle").get(0);
            } catch (IllegalArgumentException e) {
                problem = e.getMessage();
                ca = null;
                break;
            }
        }
        report("the webhook's caBundle is set", ca != null ? Status.OK : Status.FAIL, problem,
                "kubectl -n " + Mesh.NAMESPACE + " logs deploy/hypha-injector");
        Secret tls = c.secrets().inNamespace(Mesh.NAMESPACE).withName(INJECTOR_TLS_SECRET).get();
        X509Certificate serving = null;
        if (tls != null && tls.getData() != null && tls.getData().get("tls.crt") != null) {
            try {
                serving = Pki.certificates(decode(tls.getData().get("tls.crt")), "tls.crt").get(0);
            } catch (IllegalArgumentException e) {
                serving = null;
            }
        }
        String dns = "hypha-injector." + Mesh.NAMESPACE + ".svc";
        boolean certOk = serving != null && ca != null && Pki.signedBy(serving, ca) && names(serving).contains(dns);
        report("the webhook's serving certificate is valid for " + dns, certOk ? Status.OK : Status.FAIL,
                serving == null ? "no readable Secret " + INJECTOR_TLS_SECRET
                        : "not signed by the caBundle, or not for " + dns,
                "delete Secret " + INJECTOR_TLS_SECRET + " and restart the injector: it makes a new one");
        if (serving != null) {
            expiry("the webhook's serving certificate", serving, clock.instant());
        }
        int ready = 0;
        for (EndpointSlice es : c.discovery().v1().endpointSlices().inNamespace(Mesh.NAMESPACE)
                .withLabel("kubernetes.io/service-name", "hypha-injector").list().getItems()) {
            for (Endpoint e : es.getEndpoints()) {
                if (e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady())) {
                    ready++;
                }
            }
        }
        report("the webhook's Service has ready endpoints", ready > 0 ? Status.OK : Status.FAIL,
                "Service hypha-injector has no ready endpoint: the API server cannot call the webhook",
                "kubectl -n " + Mesh.NAMESPACE + " get pods -l app.kubernetes.io/name=hypha-injector");
    }

    private void dataPlane(KubernetesClient c) {
        category("hypha-data-plane");
        List<Pod> pods = (namespace == null ? c.pods().inAnyNamespace() : c.pods().inNamespace(namespace))
                .withLabel(Injector.CONTROL_PLANE_NS_LABEL, Mesh.NAMESPACE).list().getItems();
        report("meshed pods exist", pods.isEmpty() ? Status.WARN : Status.OK,
                "no pod carries " + Injector.CONTROL_PLANE_NS_LABEL + "=" + Mesh.NAMESPACE,
                "kubectl label namespace <ns> hypha.dev/inject=enabled, then restart its workloads");
        List<String> notReady = new ArrayList<>();
        List<String> oldVersion = new ArrayList<>();
        String want = MeshValues.defaults().get("proxy-version");
        for (Pod p : pods) {
            String name = p.getMetadata().getNamespace() + "/" + p.getMetadata().getName();
            if (!proxyReady(p)) {
                notReady.add(name);
            }
            Map<String, String> a = p.getMetadata().getAnnotations();
            if (a == null || !want.equals(a.get(Injector.PROXY_VERSION_ANNOTATION))) {
                oldVersion.add(name);
            }
        }
        report("the data plane's proxies are ready and certified", notReady.isEmpty() ? Status.OK : Status.FAIL,
                "not ready (a proxy is ready only once it holds a certificate): " + notReady,
                "kubectl logs <pod> -c " + Injector.PROXY);
        report("the data plane's proxies run version " + want, oldVersion.isEmpty() ? Status.OK : Status.WARN,
                "other versions: " + oldVersion, "restart those workloads to update their proxies");
    }

    private static boolean proxyReady(Pod p) {
        if (p.getStatus() == null) {
            return false;
        }
        List<ContainerStatus> all = new ArrayList<>();
        if (p.getStatus().getInitContainerStatuses() != null) {
            all.addAll(p.getStatus().getInitContainerStatuses());
        }
        if (p.getStatus().getContainerStatuses() != null) {
            all.addAll(p.getStatus().getContainerStatuses());
        }
        return all.stream().anyMatch(s -> Injector.PROXY.equals(s.getName()) && Boolean.TRUE.equals(s.getReady()));
    }

    private static List<String> names(X509Certificate c) {
        List<String> out = new ArrayList<>();
        try {
            if (c.getSubjectAlternativeNames() != null) {
                for (List<?> n : c.getSubjectAlternativeNames()) {
                    if (Integer.valueOf(2).equals(n.get(0))) {
                        out.add((String) n.get(1));
                    }
                }
            }
        } catch (Exception e) {
            // no names
        }
        return out;
    }

    private static boolean valid(List<X509Certificate> certs, Instant now) {
        return certs.stream().allMatch(c -> !now.isBefore(c.getNotBefore().toInstant())
                && now.isBefore(c.getNotAfter().toInstant()));
    }

    private static X509Certificate soonest(List<X509Certificate> certs) {
        X509Certificate s = certs.get(0);
        for (X509Certificate c : certs) {
            if (c.getNotAfter().before(s.getNotAfter())) {
                s = c;
            }
        }
        return s;
    }

    private static String decode(String b64) {
        if (b64 == null) {
            throw new IllegalArgumentException("the value is missing");
        }
        try {
            return new String(Base64.getDecoder().decode(b64), StandardCharsets.US_ASCII);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the value is not base64");
        }
    }

    private static int minor(VersionInfo v) {
        try {
            if (Integer.parseInt(v.getMajor().replaceAll("\\D", "")) > 1) {
                return 99;
            }
            return Integer.parseInt(v.getMinor().replaceAll("\\D.*", ""));
        } catch (Exception e) {
            return 0;
        }
    }

    private static String oneLine(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    private void category(String name) {
        out.println();
        out.println(name);
        out.println("-".repeat(name.length()));
    }

    private void report(String check, Status s, String problem, String hint) {
        results.add(s);
        switch (s) {
            case OK -> out.println("√ " + check);
            case WARN -> {
                out.println("‼ " + check);
                out.println("    " + problem);
                out.println("    see: " + hint);
            }
            case FAIL -> {
                out.println("× " + check);
                out.println("    " + problem);
                out.println("    see: " + hint);
            }
        }
    }

    private int summary() {
        boolean failed = results.contains(Status.FAIL);
        boolean warned = results.contains(Status.WARN);
        out.println();
        out.println("Status check results are " + (failed ? "×" : warned ? "√ (with warnings ‼)" : "√"));
        out.flush();
        return failed ? Hypha.FAILED : Hypha.OK;
    }
}
