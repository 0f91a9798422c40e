package dev.hypha.cli;

import dev.hypha.inject.Install;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

@Command(name = "uninstall", description = {
    "Render what hypha install created, for deletion: hypha uninstall | kubectl delete -f -",
    "Deleting the hypha-system namespace takes its objects with it; the CRDs go too (and every ServiceProfile).",
    "Restart meshed workloads afterwards to remove their proxies."})
final class UninstallCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().getOut().print(Install.toYaml(Install.uninstall()));
        return Hypha.OK;
    }
}
