package dev.hypha.proxy.grpc;

/** A gRPC call that ended with a non-OK status (or could not be made: UNAVAILABLE, 14). */
public final class GrpcException extends Exception {
    private final int status;

    public GrpcException(int status, String message) {
        super("grpc-status " + status + " (" + name(status) + "): " + message, null, false, false);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static String name(int s) {
        return switch (s) {
            case 0 -> "OK";
            case 1 -> "CANCELLED";
            case 2 -> "UNKNOWN";
            case 3 -> "INVALID_ARGUMENT";
            case 4 -> "DEADLINE_EXCEEDED";
            case 5 -> "NOT_FOUND";
            case 7 -> "PERMISSION_DENIED";
            case 8 -> "RESOURCE_EXHAUSTED";
            case 9 -> "FAILED_PRECONDITION";
            case 12 -> "UNIMPLEMENTED";
            case 13 -> "INTERNAL";
            case 14 -> "UNAVAILABLE";
            case 16 -> "UNAUTHENTICATED";
            default -> "status " + s;
        };
    }
}
