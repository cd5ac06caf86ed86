package dev.concurry.limit.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.ResourceLimit;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ConnectingBackendTest {
    static final AtomicInteger CONNECTS = new AtomicInteger();
    static final AtomicInteger CLOSES = new AtomicInteger();

    /** Connects to an in-memory backend, counting connections and closes. */
    static final class Counting extends ConnectingBackend {
        Counting() {
            super("counting");
        }

        @Override
        protected LimitBackend connect() {
            CONNECTS.incrementAndGet();
            LimitBackend inMemory = Backends.inMemory();
            return new Closeable(inMemory);
        }
    }

    record Closeable(LimitBackend inner) implements LimitBackend, AutoCloseable {
        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public boolean crossProcess() {
            return false;
        }

        @Override
        public LimitStore open(LimitSetDefinition definition) {
            return inner.open(definition);
        }

        @Override
        public void close() {
            CLOSES.incrementAndGet();
        }
    }

    @Test
    @DisplayName("L20 a connecting backend travels serialized, connects once on its first set, closes what it connected, and refuses sets once closed")
    void L20_connects_lazily_once_and_closes_what_it_connected() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(new Counting());
        }
        ConnectingBackend travelled = (ConnectingBackend) new ObjectInputStream(
                new ByteArrayInputStream(bytes.toByteArray())).readObject();
        int connects = CONNECTS.get();
        int closes = CLOSES.get();
        assertThat(travelled.name()).isEqualTo("counting");
        assertThat(travelled.crossProcess()).isTrue();
        assertThat(travelled.portable()).containsSame(travelled);
        assertThat(CONNECTS.get()).as("nothing connected before a set opens").isEqualTo(connects);
        try (LimitSet a = LimitSet.builder().name("a").add(ResourceLimit.of("slot", 1)).backend(travelled).build();
                LimitSet b = LimitSet.builder().name("b").add(ResourceLimit.of("slot", 1)).backend(travelled).build()) {
            assertThat(a.tryAcquire(dev.concurry.limit.Request.of("slot", 1))).isPresent();
            assertThat(CONNECTS.get()).as("one connection for both sets").isEqualTo(connects + 1);
        }
        travelled.close();
        travelled.close();
        assertThat(CLOSES.get()).as("closed once").isEqualTo(closes + 1);
        assertThatThrownBy(() -> LimitSet.builder().add(ResourceLimit.of("slot", 1)).backend(travelled).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
    }
}
