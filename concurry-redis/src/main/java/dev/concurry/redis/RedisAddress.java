package dev.concurry.redis;

import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslVerifyMode;
import java.io.Serial;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Where a {@link RedisBackend} built from addresses connects, in a form that travels to another process
 * (a process worker's child JVM): Lettuce's {@link RedisURI} holds its credentials in a provider that
 * cannot be serialized. Credentials are read once, when the backend is built, and travel only inside
 * this object (over the worker's private pipe, never on a command line); {@link #toString()} hides them.
 */
final class RedisAddress implements Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    private final boolean cluster;
    private final List<Endpoint> endpoints;

    private RedisAddress(boolean cluster, List<Endpoint> endpoints) {
        this.cluster = cluster;
        this.endpoints = List.copyOf(endpoints);
    }

    /**
     * The address of {@code uris}: one server ({@code cluster == false}, exactly one URI) or the seeds of
     * a Redis Cluster.
     *
     * @throws IllegalArgumentException for no URI, several URIs of one server, or a Sentinel URI (not
     *                                  supported here: build the backend from a client instead)
     */
    static RedisAddress of(boolean cluster, List<RedisURI> uris) {
        if (uris.isEmpty()) {
            throw new IllegalArgumentException("at least one RedisURI is needed");
        }
        if (!cluster && uris.size() != 1) {
            throw new IllegalArgumentException("a single Redis server has one RedisURI, got " + uris.size()
                    + " (for a Redis Cluster use RedisBackend.clusterBuilder(seeds...))");
        }
        List<Endpoint> endpoints = new ArrayList<>(uris.size());
        for (RedisURI uri : uris) {
            Objects.requireNonNull(uri, "uri");
            if (!uri.getSentinels().isEmpty()) {
                throw new IllegalArgumentException(
                        "Redis Sentinel URIs are not supported by RedisBackend.builder(RedisURI);"
                                + " build a RedisClient and use RedisBackend.builder(client) (its sets then cannot be re-opened"
                                + " by process workers), got: " + uri);
            }
            String user = null;
            char[] password = null;
            if (uri.getCredentialsProvider() != null) {
                RedisCredentials credentials = uri.getCredentialsProvider().resolveCredentials()
                        .block(Duration.ofSeconds(10));
                if (credentials != null) {
                    user = credentials.getUsername();
                    password = credentials.hasPassword() ? credentials.getPassword().clone() : null;
                }
            }
            endpoints.add(new Endpoint(uri.getHost(), uri.getPort(), uri.getSocket(), uri.isSsl(),
                    uri.getVerifyMode().name(), uri.isStartTls(), uri.getDatabase(), uri.getClientName(),
                    uri.getTimeout().toNanos(), user, password));
        }
        return new RedisAddress(cluster, endpoints);
    }

    boolean cluster() {
        return cluster;
    }

    /** Lettuce URIs for these endpoints, credentials included. */
    List<RedisURI> uris() {
        return endpoints.stream().map(Endpoint::uri).toList();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RedisAddress other && cluster == other.cluster && endpoints.equals(other.endpoints);
    }

    @Override
    public int hashCode() {
        return Objects.hash(cluster, endpoints);
    }

    /** The endpoints without credentials. */
    @Override
    public String toString() {
        return (cluster ? "cluster" : "") + endpoints;
    }

    private record Endpoint(String host, int port, String socket, boolean ssl, String verifyMode, boolean startTls,
            int database, String clientName, long timeoutNanos, String username, char[] password)
            implements
                Serializable {

        RedisURI uri() {
            RedisURI.Builder b = socket != null ? RedisURI.Builder.socket(socket) : RedisURI.Builder.redis(host, port);
            b.withSsl(ssl).withVerifyPeer(SslVerifyMode.valueOf(verifyMode)).withStartTls(startTls)
                    .withDatabase(database).withTimeout(Duration.ofNanos(timeoutNanos));
            if (clientName != null) {
                b.withClientName(clientName);
            }
            if (password != null) {
                if (username != null) {
                    b.withAuthentication(username, password);
                } else {
                    b.withPassword(password);
                }
            }
            return b.build();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Endpoint e && port == e.port && ssl == e.ssl && startTls == e.startTls
                    && database == e.database
                    && timeoutNanos == e.timeoutNanos && Objects.equals(host, e.host)
                    && Objects.equals(socket, e.socket)
                    && verifyMode.equals(e.verifyMode) && Objects.equals(clientName, e.clientName)
                    && Objects.equals(username, e.username) && Arrays.equals(password, e.password);
        }

        @Override
        public int hashCode() {
            return Objects.hash(host, port, socket, database);
        }

        @Override
        public String toString() {
            return (ssl ? "rediss://" : "redis://")
                    + (password != null ? (username != null ? username : "") + ":***@" : "")
                    + (socket != null ? socket : host + ":" + port) + "/" + database;
        }
    }
}
