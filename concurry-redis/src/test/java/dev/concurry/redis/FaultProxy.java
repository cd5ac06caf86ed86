package dev.concurry.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy on loopback between a Redis client and a redis-server that loses or delays replies, for
 * the tests of issue 17 (R1, R2): what a flaky network, a dropped connection or a stalled server does.
 * Every connection the client opens is relayed to the server on a connection of its own; replies can
 * be delayed ({@link #delayReplies}) or the reply to one command lost with its connection
 * ({@link #loseReplyTo}). Commands always reach the server.
 */
final class FaultProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final int target;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile long replyDelayNanos;
    /** The command text whose reply is lost next (with its connection), or null. */
    private volatile String loseReplyTo;
    private volatile boolean closed;

    private FaultProxy(int target) throws IOException {
        this.target = target;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("fault-proxy-" + listener.getLocalPort()).start(this::accept);
    }

    /** A proxy to the server listening on {@code port} of this host. */
    static FaultProxy to(int port) {
        try {
            return new FaultProxy(port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String uri() {
        return "redis://127.0.0.1:" + listener.getLocalPort();
    }

    /** Holds every reply for {@code delay} before passing it on, in order (zero: none). */
    void delayReplies(Duration delay) {
        replyDelayNanos = delay.toNanos();
    }

    /**
     * The next command sent whose text contains {@code marker} reaches the server, which runs it; its
     * reply is dropped and the connection closed on both sides, as when a network drops a connection at
     * the worst moment. Clients reconnect (through the proxy again).
     */
    void loseReplyTo(String marker) {
        loseReplyTo = marker;
    }

    /** Whether the reply armed by {@link #loseReplyTo} has been lost yet. */
    boolean lostReply() {
        return loseReplyTo == null;
    }

    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.forEach(FaultProxy::closeQuietly);
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), target);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                Link link = new Link(client, server);
                Thread.ofPlatform().daemon().start(link::commands);
                Thread.ofPlatform().daemon().start(link::replies);
                Thread.ofPlatform().daemon().start(link::deliver);
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("fault proxy: " + e);
                }
            }
        }
    }

    /** One client connection and its server connection. */
    private final class Link {
        private final Socket client;
        private final Socket server;
        private final LinkedBlockingQueue<Chunk> pending = new LinkedBlockingQueue<>();
        private volatile boolean loseNext;

        Link(Socket client, Socket server) {
            this.client = client;
            this.server = server;
        }

        /** Client to server, unchanged; arms the loss of a reply when the marked command passes. */
        void commands() {
            byte[] buffer = new byte[65536];
            try (InputStream in = client.getInputStream(); OutputStream out = server.getOutputStream()) {
                for (int n; (n = in.read(buffer)) > 0;) {
                    String marker = loseReplyTo;
                    if (marker != null && new String(buffer, 0, n, StandardCharsets.ISO_8859_1).contains(marker)) {
                        loseReplyTo = null;
                        loseNext = true;
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException ignored) {
                // the connection ended
            } finally {
                end();
            }
        }

        /** Server to client: each chunk is due after the current delay, or lost with the connection. */
        void replies() {
            byte[] buffer = new byte[65536];
            try (InputStream in = server.getInputStream()) {
                for (int n; (n = in.read(buffer)) > 0;) {
                    if (loseNext) {
                        end();
                        return;
                    }
                    pending.put(new Chunk(System.nanoTime() + replyDelayNanos, Arrays.copyOf(buffer, n)));
                }
            } catch (IOException ignored) {
                // the connection ended
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                pending.offer(Chunk.END);
            }
        }

        /** Writes the replies to the client in order, each when it is due. */
        void deliver() {
            try (OutputStream out = client.getOutputStream()) {
                while (true) {
                    Chunk chunk = pending.take();
                    if (chunk == Chunk.END) {
                        return;
                    }
                    long wait = chunk.due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    out.write(chunk.bytes);
                    out.flush();
                }
            } catch (IOException ignored) {
                // the connection ended
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                end();
            }
        }

        void end() {
            closeQuietly(client);
            closeQuietly(server);
            sockets.remove(client);
            sockets.remove(server);
        }
    }

    private record Chunk(long due, byte[] bytes) {
        static final Chunk END = new Chunk(0, new byte[0]);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
