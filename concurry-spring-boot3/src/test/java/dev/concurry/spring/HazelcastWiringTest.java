package dev.concurry.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import dev.concurry.hazelcast.HazelcastBackend;
import dev.concurry.hazelcast.LoopbackCluster;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * A {@code backend: hazelcast} set from YAML alone, built on the application's own {@code HazelcastInstance}
 * bean (an embedded member on loopback), and the state it keeps in the cluster's map.
 */
class HazelcastWiringTest {

    @Configuration(proxyBeanMethods = false)
    static class AppMember {
        @Bean(destroyMethod = "shutdown")
        HazelcastInstance hazelcastInstance() {
            int port;
            try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1,
                    java.net.InetAddress.getLoopbackAddress())) {
                port = socket.getLocalPort();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return Hazelcast.newHazelcastInstance(
                    LoopbackCluster.memberConfig("spring-" + System.nanoTime(), port, List.of(port)));
        }
    }

    @Test
    @DisplayName("L18b the application's HazelcastInstance bean becomes the backend of backend: hazelcast sets")
    void aHazelcastSetFromPropertiesAlone() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(ConcurryHazelcastAutoConfiguration.class,
                        ConcurryAutoConfiguration.class))
                .withUserConfiguration(AppMember.class)
                .withPropertyValues("concurry.limit-sets.shared.backend=hazelcast",
                        "concurry.limit-sets.shared.limits[0].type=resource",
                        "concurry.limit-sets.shared.limits[0].key=conn",
                        "concurry.limit-sets.shared.limits[0].capacity=2")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    LimitSet shared = context.getBean("shared", LimitSet.class);
                    assertThat(shared.backend()).isSameAs(context.getBean(HazelcastBackend.class));
                    try (Acquisition a = shared.acquire(Request.of("conn", 2))) {
                        assertThat(shared.tryAcquire(Request.of("conn", 1))).isEmpty();
                        assertThat(context.getBean(HazelcastInstance.class).getMap(HazelcastBackend.DEFAULT_MAP).size())
                                .as("the set's state lives in the cluster").isEqualTo(1);
                    }
                    assertThat(shared.stats().key("conn").inUse()).isZero();
                });
    }
}
