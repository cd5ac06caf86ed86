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
    static final long STAMP = Math.max(0, current(PID));
    /** This process in a lock word: pid in the low 32 bits, stamp in the high 32. */
    static final long LOCK_WORD = (STAMP << 32) | (PID & 0xFFFF_FFFFL);
    /** Hash of this boot of the host (Linux boot id), 0 if unknown: after a reboot nobody holds anything. */
    static final long BOOT = bootId();

    private static final long NO_PROCESS = -1;
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

    /** Whether the process {@code pid} that started at {@code stamp} still runs. */
    static boolean alive(long pid, long stamp) {
        if (pid <= 0 || pid > MASK) {
            return false;
        }
        if (pid == PID) {
            return stamp == STAMP;      // this process, or a dead one that had this pid before
        }
        long now = current(pid);
        if (now == NO_PROCESS) {
            return false;
        }
        if (now == 0 || stamp == 0) {
            return true;                // start unknown: the pid is all there is to go by
        }
        return PROC ? now == stamp : Math.abs(now - stamp) <= 2;
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

    /** The stamp of the process now running as {@code pid}, 0 if its start is unknown, or NO_PROCESS. */
    private static long current(long pid) {
        if (PROC) {
            try {
                String[] fields = readStat(pid);
                char state = fields[0].charAt(0);
                if (state == 'Z' || state == 'X') {
                    return NO_PROCESS;          // a zombie holds nothing: it only waits to be reaped
                }
                return Long.remainderUnsigned(Long.parseLong(fields[19]), MASK) + 1;
            } catch (NoSuchFileException e) {
                return NO_PROCESS;
            } catch (IOException | RuntimeException e) {
                // unreadable here (hidepid?): ask the JDK below
            }
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return NO_PROCESS;
        }
        return handle.get().info().startInstant()
                .map(start -> Long.remainderUnsigned(start.getEpochSecond(), MASK) + 1).orElse(0L);
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
