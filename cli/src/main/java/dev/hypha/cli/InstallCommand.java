package dev.hypha.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.hypha.inject.Install;
import dev.hypha.inject.MeshValues;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "install", description = {
    "Render the mesh's manifests to stdout: hypha install | kubectl apply -f -",
    "A trust anchor and an issuer are generated unless you bring your own (all three --identity-* files)."})
final class InstallCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--crds", description = "render only the CustomResourceDefinitions")
    boolean crdsOnly;

    @Option(names = "--ha", description = "high availability: 3 replicas each, on different nodes")
    boolean ha;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "an install value (docs/install.md lists them)")
    List<String> set = List.of();

    @Option(names = "--identity-trust-anchors-file", paramLabel = "FILE", description = "PEM trust anchors (roots)")
    Path anchorsFile;

    @Option(names = "--identity-issuer-certificate-file", paramLabel = "FILE",
            description = "PEM issuer (intermediate) certificate, signed by a trust anchor")
    Path issuerCertFile;

    @Option(names = "--identity-issuer-key-file", paramLabel = "FILE", description = "PEM issuer private key")
    Path issuerKeyFile;

    @Override
    public Integer call() {
        if (crdsOnly) {
            spec.commandLine().getOut().print(Install.toYaml(Install.crds()));
            return Hypha.OK;
        }
        MeshValues values = values(set, ha);
        Install.Identity identity = identity(values);
        List<JsonNode> docs = Install.render(values, identity, true, ha);
        spec.commandLine().getOut().print(Install.toYaml(docs));
        return Hypha.OK;
    }

    static MeshValues values(List<String> set, boolean ha) {
        Map<String, String> m = new LinkedHashMap<>();
        if (ha) {
            m.put("control-replicas", "3");
            m.put("injector-replicas", "3");
        }
        for (String kv : set) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new Hypha.UserException("--set '" + kv + "' is not KEY=VALUE (e.g. --set proxy-log-level=debug)",
                        Hypha.USAGE);
            }
            m.put(kv.substring(0, eq).trim(), kv.substring(eq + 1));
        }
        try {
            return MeshValues.defaults().withInstallValues(m);
        } catch (MeshValues.InvalidValuesException e) {
            throw new Hypha.UserException("invalid --set: " + String.join("; ", e.problems()), Hypha.USAGE);
        }
    }

    private Install.Identity identity(MeshValues values) {
        int given = (anchorsFile != null ? 1 : 0) + (issuerCertFile != null ? 1 : 0) + (issuerKeyFile != null ? 1 : 0);
        if (given == 0) {
            return Install.Identity.generate(values.get("trust-domain"), Instant.now());
        }
        if (given != 3) {
            throw new Hypha.UserException("--identity-trust-anchors-file, --identity-issuer-certificate-file and "
                    + "--identity-issuer-key-file go together: give all three, or none to have them generated",
                    Hypha.USAGE);
        }
        Install.Identity id = new Install.Identity(read(anchorsFile, "--identity-trust-anchors-file"),
                read(issuerCertFile, "--identity-issuer-certificate-file"),
                read(issuerKeyFile, "--identity-issuer-key-file"));
        List<String> problems = id.problems(Instant.now());
        if (!problems.isEmpty()) {
            throw new Hypha.UserException("the identity you brought cannot be used: " + String.join("; ", problems),
                    Hypha.USAGE);
        }
        return id;
    }

    static String read(Path p, String flag) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new Hypha.UserException(flag + " " + p + ": cannot read it (" + e.getMessage() + ")", Hypha.USAGE);
        }
    }
}
