package dev.concurry.worker;

/**
 * How a remote worker ended: its process id and exit code ({@code -1} when unknown, as for a worker on
 * a cluster member) and a description starting with the worker's name, such as "worker process 4242
 * exited with code 137 (killed by SIGKILL)".
 */
record WorkerDeath(long pid, int exitCode, String description) {

    /** The exception for a call that was lost with the worker; {@code context} says when. */
    WorkerDiedException exception(String context) {
        return new WorkerDiedException(pid, exitCode, description + " " + context);
    }
}
