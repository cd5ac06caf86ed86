/**
 * Live terminal progress bars (me.tongfei:progressbar) for {@code dev.concurry.progress.Progress},
 * found through {@link java.util.ServiceLoader} when this module is on the class path.
 */
package dev.concurry.progressbar;
