package dev.concurry.hazelcast;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * The main class of a member JVM started by {@link LoopbackCluster}: starts one member with
 * {@link LoopbackCluster#memberConfig}, prints {@value #READY} and its member id on stdout once it sees
 * {@code expectedSize} members, then serves until its stdin ends (the parent closed it, or died), and
 * leaves the cluster. Arguments: cluster name, port, expected cluster size, every member's port
 * (comma-separated).
 */
final class LoopbackMemberMain {
    static final String READY = "CONCURRY-MEMBER-READY";

    private LoopbackMemberMain() {
    }

    public static void main(String[] args) throws Exception {
        String clusterName = args[0];
        int port = Integer.parseInt(args[1]);
        int expectedSize = Integer.parseInt(args[2]);
        List<Integer> ports = Arrays.stream(args[3].split(",")).map(Integer::valueOf).toList();
        HazelcastInstance member = Hazelcast
                .newHazelcastInstance(LoopbackCluster.memberConfig(clusterName, port, ports));
        while (member.getCluster().getMembers().size() < expectedSize) {
            Thread.sleep(20);
        }
        System.out.println(READY + " " + member.getCluster().getLocalMember().getUuid());
        System.out.flush();
        try {
            while (System.in.read() >= 0) {
                // nothing is sent on stdin; its end is the signal to leave
            }
        } catch (IOException e) {
            // the parent is gone: leave as well
        }
        member.getLifecycleService().terminate();
        System.exit(0);
    }
}
