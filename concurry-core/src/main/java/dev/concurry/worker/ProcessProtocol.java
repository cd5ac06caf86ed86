package dev.concurry.worker;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.StreamCorruptedException;
import java.util.Set;

/**
 * The pipe between a pool and the child JVM of a {@link Mode#PROCESS} worker (SPEC W8): the child's
 * stdin carries requests, its stdout responses; nothing listens on a port.
 *
 * <p><b>Frames.</b> Every message is one frame: {@code int magic, int length, byte type, long id,
 * byte[length - 9] payload}, big-endian. The envelope (type and id) is read with
 * {@link DataInputStream}, never with Java serialization, so a payload that cannot be read fails only
 * its own call. Payloads are Java-serialized objects read through {@link Filter}. The magic number
 * detects anything else written to the child's stdout (the child points {@code System.out} at its
 * stderr, but native code could still write there).
 *
 * <p><b>Messages.</b> Parent to child: {@link #INIT} (worker type, filter pattern, then the
 * serialized factory and limits), {@link #CALL} (id, serialized {@link WorkerCall}), {@link #CANCEL}
 * (id: remove it if queued, interrupt it if running), {@link #EXIT} (finish queued calls, then exit).
 * Child to parent: {@link #READY} (id = the child's pid), {@link #INIT_FAILED} (serialized
 * exception), {@link #RESULT} (id, serialized value), {@link #FAILURE} (id, serialized exception).
 * Calls are asynchronous and matched by id; the child runs them one at a time, in order.
 */
final class ProcessProtocol {
    static final int MAGIC = 0xC0C0_2A11;
    /** Largest frame accepted: also the largest serialized call, result or exception. */
    static final int MAX_FRAME = 1 << 30;

    static final byte INIT = 1;
    static final byte CALL = 2;
    static final byte CANCEL = 3;
    static final byte EXIT = 4;
    static final byte READY = 11;
    static final byte INIT_FAILED = 12;
    static final byte RESULT = 13;
    static final byte FAILURE = 14;

    private ProcessProtocol() {
    }

    record Frame(byte type, long id, byte[] payload) {
    }

    /** One side's end of the pipe: frames written whole and flushed, one writer at a time. */
    static final class FrameWriter implements AutoCloseable {
        private final DataOutputStream out;
        private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();

        FrameWriter(DataOutputStream out) {
            this.out = out;
        }

        void send(byte type, long id, byte[] payload) throws IOException {
            lock.lock();
            try {
                write(out, type, id, payload);
                out.flush();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() throws IOException {
            lock.lock();
            try {
                out.close();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Writes one frame; the caller serializes writers and flushes. */
    static void write(DataOutputStream out, byte type, long id, byte[] payload) throws IOException {
        int length = 9 + payload.length;
        out.writeInt(MAGIC);
        out.writeInt(length);
        out.writeByte(type);
        out.writeLong(id);
        out.write(payload);
    }

    /** Something else than a frame was written to the pipe; {@link #start} holds its first four bytes. */
    static final class NotAFrameException extends StreamCorruptedException {
        private static final long serialVersionUID = 1L;
        final int start;

        NotAFrameException(int start) {
            super(String.format("not a concurry frame (starts with 0x%08x): something else wrote to the pipe", start));
            this.start = start;
        }
    }

    /** Reads one frame; {@link java.io.EOFException} at the end of the stream. */
    static Frame read(DataInputStream in) throws IOException {
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new NotAFrameException(magic);
        }
        int length = in.readInt();
        if (length < 9 || length > MAX_FRAME) {
            throw new StreamCorruptedException("frame length out of range: " + length);
        }
        byte type = in.readByte();
        long id = in.readLong();
        byte[] payload = new byte[length - 9];
        in.readFully(payload);
        return new Frame(type, id, payload);
    }

    static byte[] serialize(Object value) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(value);
        }
        return bytes.toByteArray();
    }

    /**
     * Reads one object through a fresh {@link Filter}; a refused class gives a
     * {@link SerializationFailedException} naming it and saying how to allow it.
     */
    static Object deserialize(byte[] payload, Filter.Config filter, ClassLoader loader, String what)
            throws IOException, ClassNotFoundException {
        Filter check = new Filter(filter);
        try (ObjectInputStream in = new LoaderObjectInputStream(new ByteArrayInputStream(payload), loader)) {
            in.setObjectInputFilter(check);
            return in.readObject();
        } catch (InvalidClassException e) {
            if (check.rejected != null) {
                throw new SerializationFailedException("cannot read " + what + ": " + check.rejected
                        + " is refused by the process workers' serialization filter; allow it with"
                        + " serializationFilter(\"" + allowPattern(check.rejected) + "\") if it is safe", e);
            }
            throw e;
        }
    }

    private static String allowPattern(String rejected) {
        if (rejected.startsWith("limit ")) {
            return rejected.replaceFirst("limit (\\w+).*", "$1=...");
        }
        String name = rejected.replaceFirst("^class ", "");
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) + ".*" : name;
    }

    /** Resolves classes with the worker type's loader (then the default rules). */
    private static final class LoaderObjectInputStream extends ObjectInputStream {
        private final ClassLoader loader;

        LoaderObjectInputStream(InputStream in, ClassLoader loader) throws IOException {
            super(in);
            this.loader = loader;
        }

        @Override
        protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
            if (loader != null) {
                try {
                    return Class.forName(desc.getName(), false, loader);
                } catch (ClassNotFoundException e) {
                    // primitives and array edge cases: fall back to the default rules
                }
            }
            return super.resolveClass(desc);
        }
    }

    /**
     * What both sides of the pipe let Java serialization create (SPEC W8). Decided in this order:
     * <ol>
     *   <li>the user's pattern ({@link PoolOptions#serializationFilter(String)}, JDK
     *       {@link ObjectInputFilter.Config#createFilter(String) filter syntax}), when it decides;</li>
     *   <li>limits: depth ≤ {@value #MAX_DEPTH}, references ≤ {@value #MAX_REFS}, array length ≤
     *       {@value #MAX_ARRAY}, bytes ≤ one frame;</li>
     *   <li>allowed: primitives and arrays of allowed types; every {@code dev.concurry} class; the
     *       worker type's package; the lambda machinery ({@link java.lang.invoke.SerializedLambda});
     *       the value types of {@code java.base}: {@code java.lang}, {@code java.util},
     *       {@code java.util.concurrent(.atomic)}, {@code java.time}, {@code java.math}, {@code java.net.URI},
     *       {@code java.util.regex.Pattern}; any exception ({@link Throwable}) or enum of any module;
     *       and any class from the class path (the unnamed module: the application's classes and
     *       libraries) except the packages of well-known deserialization gadget libraries
     *       ({@link #GADGETS});</li>
     *   <li>everything else is refused: other JDK modules' classes ({@code javax.management},
     *       {@code java.rmi}, {@code com.sun}, {@code jdk.*}...) and classes of named modules.</li>
     * </ol>
     */
    static final class Filter implements ObjectInputFilter {
        static final long MAX_DEPTH = 1_000;
        static final long MAX_REFS = 10_000_000;
        static final long MAX_ARRAY = 100_000_000;
        private static final Set<String> JAVA_BASE_PACKAGES = Set.of("java.lang", "java.util",
                "java.util.concurrent", "java.util.concurrent.atomic", "java.time", "java.time.chrono",
                "java.time.format", "java.time.temporal", "java.time.zone", "java.math");
        private static final Set<String> JAVA_BASE_CLASSES = Set.of("java.lang.invoke.SerializedLambda",
                "java.net.URI", "java.util.regex.Pattern");
        /** Class-path packages refused although they are on the class path: known gadget chains. */
        static final Set<String> GADGETS = Set.of("org.apache.commons.collections.functors",
                "org.apache.commons.collections4.functors", "org.apache.commons.beanutils",
                "org.codehaus.groovy.runtime", "org.springframework.beans.factory.support",
                "org.springframework.aop.framework", "com.mchange.v2.c3p0", "org.apache.xalan.xsltc.trax",
                "com.sun.org.apache.xalan.internal.xsltc.trax", "bsh", "clojure.core", "org.python.core",
                "com.sun.rowset", "org.mozilla.javascript");

        /** The per-pool part: the worker type's package and the user's pattern (may be null). */
        record Config(String workerPackage, ObjectInputFilter user, String pattern) {
            static Config of(String workerType, String pattern) {
                int dot = workerType.lastIndexOf('.');
                String pkg = dot > 0 ? workerType.substring(0, dot) : "";
                ObjectInputFilter user = pattern == null || pattern.isBlank()
                        ? null
                        : ObjectInputFilter.Config.createFilter(pattern);
                return new Config(pkg, user, pattern == null ? "" : pattern);
            }
        }

        private final Config config;
        /** What was refused last, for the message: "class x.Y" or "limit depth 1001". */
        volatile String rejected;

        Filter(Config config) {
            this.config = config;
        }

        @Override
        public Status checkInput(FilterInfo info) {
            if (config.user() != null) {
                Status user = config.user().checkInput(info);
                if (user == Status.REJECTED) {
                    return reject(info.serialClass() != null
                            ? "class " + info.serialClass().getName()
                            : "limit set by serializationFilter(\"" + config.pattern() + "\")");
                }
                if (user == Status.ALLOWED) {
                    return Status.ALLOWED;
                }
            }
            if (info.depth() > MAX_DEPTH) {
                return reject("limit maxdepth " + info.depth() + " > " + MAX_DEPTH);
            }
            if (info.references() > MAX_REFS) {
                return reject("limit maxrefs " + info.references() + " > " + MAX_REFS);
            }
            if (info.arrayLength() > MAX_ARRAY) {
                return reject("limit maxarray " + info.arrayLength() + " > " + MAX_ARRAY);
            }
            if (info.streamBytes() > MAX_FRAME) {
                return reject("limit maxbytes " + info.streamBytes() + " > " + MAX_FRAME);
            }
            Class<?> type = info.serialClass();
            if (type == null) {
                return Status.UNDECIDED;
            }
            while (type.isArray()) {
                type = type.getComponentType();
            }
            return allowed(type) ? Status.ALLOWED : reject("class " + type.getName());
        }

        private Status reject(String what) {
            rejected = what;
            return Status.REJECTED;
        }

        private boolean allowed(Class<?> type) {
            if (type.isPrimitive()) {
                return true;
            }
            String name = type.getName();
            String pkg = type.getPackageName();
            if (pkg.equals("dev.concurry") || pkg.startsWith("dev.concurry.") || pkg.equals(config.workerPackage())) {
                return true;
            }
            if (Throwable.class.isAssignableFrom(type) || Enum.class.isAssignableFrom(type)) {
                return true; // rebuilt from their fields, each checked here; enums by name only
            }
            if (JAVA_BASE_CLASSES.contains(name)) {
                return true;
            }
            if (type.getModule().isNamed()) {
                return type.getModule().getName().equals("java.base") && JAVA_BASE_PACKAGES.contains(pkg);
            }
            for (String gadget : GADGETS) {
                if (pkg.equals(gadget) || pkg.startsWith(gadget + ".")) {
                    return false;
                }
            }
            return true; // the class path: the application's own classes and libraries
        }
    }
}
