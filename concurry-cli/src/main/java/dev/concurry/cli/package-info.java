/**
 * The {@code concurry} command line (picocli): {@code concurry demo} runs the seed's scenarios against
 * local services that enforce their own limits (an LLM-like HTTP API, PostgreSQL, two API regions).
 */
package dev.concurry.cli;
