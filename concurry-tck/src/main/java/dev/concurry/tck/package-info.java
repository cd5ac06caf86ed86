/**
 * The behaviour test kit every limit backend passes unchanged (SPEC L19): subclass
 * {@link dev.concurry.tck.LimitSetTck} and supply the backend on a manual clock.
 */
package dev.concurry.tck;
