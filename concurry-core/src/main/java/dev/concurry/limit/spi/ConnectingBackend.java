package dev.concurry.limit.spi;

import dev.concurry.limit.LimitBackend;
import java.io.Serial;
import java.io.Serializable;
import java.util.Optional;

/**
 * The portable form of a backend that reaches its state through a connection (SPEC L20): a serializable
 * description — an address and options, never a live client — that {@link LimitBackend#portable()}
 * returns and that process and cluster pools send to each worker. Where it arrives it {@linkplain #connect()
 * connects} on the first set it opens, and {@linkplain #close() closes} that connection when closed (a
 * process worker's child closes it when it ends). Subclasses hold only serializable fields.
 *
 * <pre>{@code
 * final class PortableAcmeBackend extends ConnectingBackend {
 *     private final String address;
 *
 *     PortableAcmeBackend(String address) {
 *         super("acme");
 *         this.address = address;
 *     }
 *
 *     @Override
 *     protected LimitBackend connect() {
 *         return AcmeBackend.connect(address);             // closed by close() if AutoCloseable
 *     }
 * }
 * }</pre>
 */
public abstract class ConnectingBackend implements LimitBackend, AutoCloseable, Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String name;
    private transient LimitBackend connected;   // guarded by this
    private transient boolean closed;           // guarded by this

    /** @param name the {@link #name()} of the backend this one connects to */
    protected ConnectingBackend(String name) {
        this.name = name;
    }

    /**
     * Builds the backend that reaches the state from here: called once, on the first {@link #open}. If it
     * is {@link AutoCloseable}, {@link #close()} closes it.
     */
    protected abstract LimitBackend connect();

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final boolean crossProcess() {
        return true;
    }

    /** Itself: it travels as it came. */
    @Override
    public final Optional<LimitBackend> portable() {
        return Optional.of(this);
    }

    /** Opens the set on the connected backend, connecting first if this is the first set. */
    @Override
    public final LimitStore open(LimitSetDefinition definition) {
        return connected().open(definition);
    }

    private synchronized LimitBackend connected() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
        if (connected == null) {
            connected = connect();
        }
        return connected;
    }

    /** Closes the backend {@link #connect()} built, if any and if closeable; idempotent. */
    @Override
    public synchronized void close() throws Exception {
        closed = true;
        LimitBackend backend = connected;
        connected = null;
        if (backend instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }
}
