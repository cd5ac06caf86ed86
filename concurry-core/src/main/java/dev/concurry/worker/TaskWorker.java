package dev.concurry.worker;

/** The worker behind a {@link TaskExecutor}: runs whatever function it is given, with its limiter. */
final class TaskWorker extends Worker {

    <R> R run(LimitedTask<R> task) throws Exception {
        return task.call(limits());
    }
}
