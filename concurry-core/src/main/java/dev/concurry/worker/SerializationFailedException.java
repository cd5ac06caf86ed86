package dev.concurry.worker;

/**
 * Something that had to cross the pipe to or from a {@link Mode#PROCESS} worker could not: a call
 * capturing a value that is not {@link java.io.Serializable}, a result or exception that is not, or
 * a class the {@linkplain PoolOptions#serializationFilter(String) serialization filter} refuses
 * (SPEC W8). The message names the class and, for a result or exception, its {@code toString}. An
 * exception that could not be sent keeps its stack trace here.
 */
public class SerializationFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SerializationFailedException(String message) {
        super(message);
    }

    public SerializationFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
