package dev.hypha.inject;

import java.util.List;

/** The outcome of injecting one pod (template): a stable reason, a sentence, and notes worth knowing. */
public record Report(Reason reason, String message, List<String> notes) {
    public Report {
        notes = List.copyOf(notes);
    }

    public boolean injected() {
        return reason == Reason.INJECTED;
    }
}
