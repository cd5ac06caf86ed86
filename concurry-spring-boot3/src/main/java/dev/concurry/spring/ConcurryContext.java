package dev.concurry.spring;

import dev.concurry.limit.Acquisition;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;

/**
 * The acquisition of the {@link Limited @Limited} method running on this thread, for code that has no
 * {@code Acquisition} parameter (a helper the method calls, for example).
 *
 * <pre>{@code
 * @Limited(set = "openai", request = "requests=1, tokens=2000")
 * public Completion complete(String prompt) {
 *     Completion c = client.complete(prompt);
 *     ConcurryContext.current().update("tokens", c.totalTokens());
 *     return c;
 * }
 * }</pre>
 *
 * <p>Nested {@code @Limited} calls each see their own acquisition; the outer one is current again when
 * the inner returns. It is bound to the thread that runs the method: code continuing on another thread
 * (a {@code CompletionStage} callback) should capture it, or take it as a parameter.
 */
public final class ConcurryContext {
    private static final ThreadLocal<Deque<Acquisition>> CURRENT = new ThreadLocal<>();

    private ConcurryContext() {
    }

    /**
     * The acquisition of the innermost {@code @Limited} method running on this thread.
     *
     * @throws IllegalStateException if no {@code @Limited} method is running on this thread
     */
    public static Acquisition current() {
        return find().orElseThrow(() -> new IllegalStateException(
                "no @Limited method is running on this thread (" + Thread.currentThread().getName() + ")"));
    }

    /** The acquisition of the innermost {@code @Limited} method running on this thread, if any. */
    public static Optional<Acquisition> find() {
        Deque<Acquisition> stack = CURRENT.get();
        return stack == null ? Optional.empty() : Optional.ofNullable(stack.peek());
    }

    static void push(Acquisition acquisition) {
        Deque<Acquisition> stack = CURRENT.get();
        if (stack == null) {
            stack = new ArrayDeque<>(2);
            CURRENT.set(stack);
        }
        stack.push(acquisition);
    }

    static void pop() {
        Deque<Acquisition> stack = CURRENT.get();
        stack.pop();
        if (stack.isEmpty()) {
            CURRENT.remove();
        }
    }
}
