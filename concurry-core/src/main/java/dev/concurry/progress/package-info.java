/**
 * Progress of long work (SPEC P1): {@link dev.concurry.progress.Progress} reports done / total, rate and
 * ETA as periodic lines; with {@code concurry-progressbar} on the class path, as a live terminal bar.
 */
package dev.concurry.progress;
