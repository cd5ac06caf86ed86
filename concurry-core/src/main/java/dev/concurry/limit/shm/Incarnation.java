package dev.concurry.limit.shm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Which process, and which incarnation of it: a pid plus a stamp of the moment the process started.
 * A pid alone is not an identity: it is reused, and the JVM of a restarted container is pid 1 again,
 * so a holder that died inside the lock would look alive forever. Every owner recorded in a limit file
 * (the lock word, holder slots, tickets) is a (pid, stamp) pair, and is alive only if a process with
 * that pid runs and started at that stamp.
 *
 * <p>The stamp: on Linux, the start time in clock ticks since boot from {@code /proc/<pid>/stat}
 * (exact, and immune to changes of the wall clock), plus one; elsewhere the start instant
 * {@link ProcessHandle} reports, in seconds (derived from the wall clock, so compared within 2 s),
 * plus one. 0 means "unknown": such an owner is judged by its pid alone. Stamps keep 32 bits.
 */
final class Incarnation {
    static final long PID = ProcessHandle.current().pid();
    private static final boolean PROC = Files.isReadable(Path.of("/proc/self/stat"));
    /** This process's stamp. */
    static final long STAMP = ownStamp();
    /** This process in a lock word: pid in the low 32 bits, stamp in the high 32. */
    static final long LOCK_WORD = (STAMP << 32) | (PID & 0xFFFF_FFFFL);
    /** Hash of this boot of the host (Linux boot id), 0 if unknown: after a reboot nobody holds anything. */
    static final long BOOT = bootId();

    private static final long MASK = 0xFFFF_FFFFL;

    private Incarnation() {
    }

    /** The pid of a lock word. */
    static long pid(long lockWord) {
        return lockWord & MASK;
    }

    /** The stamp of a lock word. */
    static long stamp(long lockWord) {
        return lockWord >>> 32;
    }

    /** What became of a process recorded in a file. */
    enum Liveness {
        /** No such process, or its pid now belongs to another incarnation: it holds nothing. */
        DEAD,
        /** Alive but stopped (SIGSTOP, job control, ptrace): it will not let go of anything soon. */
        STOPPED,
        /** Alive, and running or ready to run. */
        RUNNING
    }

    /** Whether the process {@code pid} that started at {@code stamp} still runs. */
    static boolean alive(long pid, long stamp) {
        return liveness(pid, stamp) != Liveness.DEAD;
    }

    /** What became of the process {@code pid} that started at {@code stamp}. */
    static Liveness liveness(long pid, long stamp) {
        if (pid <= 0 || pid > MASK) {
            return Liveness.DEAD;
        }
        if (pid == PID) {
            // This process, or a dead one that had this pid before.
            return stamp == STAMP ? Liveness.RUNNING : Liveness.DEAD;
        }
        if (PROC) {
            try {
                String[] fields = readStat(pid);
                char state = fields[0].charAt(0);
                if (state == 'Z' || state == 'X') {
                    return Liveness.DEAD;           // a zombie holds nothing: it only waits to be reaped
                }
                if (stamp != 0 && stampOf(fields) != stamp) {
                    return Liveness.DEAD;
                }
                return state == 'T' || state == 't' ? Liveness.STOPPED : Liveness.RUNNING;
            } catch (NoSuchFileException e) {
                return Liveness.DEAD;
            } catch (IOException | RuntimeException e) {
                // unreadable here (hidepid?): ask the JDK below
            }
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return Liveness.DEAD;
        }
        if (PROC) {
            return Liveness.RUNNING;        // its /proc entry is hidden from us: the pid is all there is
        }
        long now = handle.get().info().startInstant()
                .map(start -> Long.remainderUnsigned(start.getEpochSecond(), MASK) + 1).orElse(0L);
        // Derived from the wall clock: allow for it having been adjusted a little.
        return now == 0 || stamp == 0 || Math.abs(now - stamp) <= 2 ? Liveness.RUNNING : Liveness.DEAD;
    }

    /** A description of {@code pid} for messages: "process 4242 (stopped)". */
    static String describe(long pid) {
        String state = switch (state(pid)) {
            case 'T' -> "stopped: SIGSTOP or a job control stop";
            case 't' -> "stopped by a debugger";
            case 'D' -> "in uninterruptible sleep: frozen or waiting for the disk";
            case 'R' -> "running";
            case 'S' -> "sleeping";
            case 'Z', 'X' -> "dead";
            default -> "state unknown";
        };
        return "process " + pid + " (" + state + ")";
    }

    /** The state letter of {@code pid} in /proc (R, S, T...), or '?'. */
    private static char state(long pid) {
        return stat(pid).map(fields -> fields[0].charAt(0)).orElse('?');
    }

    /** This process's stamp, 0 if its start cannot be read. */
    private static long ownStamp() {
        if (PROC) {
            try {
                return stampOf(readStat(PID));
            } catch (IOException | RuntimeException e) {
                // ask the JDK below
            }
        }
        return ProcessHandle.current().info().startInstant()
                .map(start -> Long.remainderUnsigned(start.getEpochSecond(), MASK) + 1).orElse(0L);
    }

    /** The stamp in the fields of /proc/pid/stat: the start time in clock ticks since boot (field 22). */
    private static long stampOf(String[] fields) {
        return Long.remainderUnsigned(Long.parseLong(fields[19]), MASK) + 1;
    }

    private static Optional<String[]> stat(long pid) {
        try {
            return Optional.of(readStat(pid));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The fields of /proc/pid/stat after the command name (which may hold spaces): state first. */
    private static String[] readStat(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }

    private static long bootId() {
        try {
            String id = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            return id.isEmpty() ? 0 : SharedFile.fnv64(id);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
