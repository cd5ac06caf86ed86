package dev.concurry.limit;

/**
 * A new key was refused by a {@link KeyedLimits} family holding its {@code maxKeys} keys, none of them
 * idle (each still holds a permit, owes a debt, has a window still counting or an acquisition open):
 * dropping one would make it more generous than its limits (SPEC L24). Nothing was taken.
 */
public class TooManyKeysException extends LimitException {
    private static final long serialVersionUID = 1L;

    public TooManyKeysException(String message) {
        super(message);
    }
}
