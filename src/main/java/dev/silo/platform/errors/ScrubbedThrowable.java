package dev.silo.platform.errors;

import com.rollbar.api.payload.data.body.RollbarThread;
import com.rollbar.notifier.wrapper.ThrowableWrapper;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Collections;

/**
 * An exception as Rollbar receives it from Silo: the class names and stack frames of the exception and its causes,
 * the messages only through {@link ErrorText#scrub}. And no thread dump: the SDK's own wrapper sends the stacks of
 * every thread of the process with every item.
 */
final class ScrubbedThrowable implements ThrowableWrapper {
    static final int MAX_CAUSES = 8;
    static final int MAX_FRAMES = 100;

    private final Throwable throwable;
    private final String className;
    private final String message;
    private final StackTraceElement[] frames;
    private final ScrubbedThrowable cause;

    private ScrubbedThrowable(Throwable throwable, ScrubbedThrowable cause) {
        this.throwable = throwable;
        this.className = throwable.getClass().getName();
        this.message = ErrorText.scrub(throwable.getMessage());
        StackTraceElement[] all = throwable.getStackTrace();
        this.frames = all.length > MAX_FRAMES ? Arrays.copyOf(all, MAX_FRAMES) : all;
        this.cause = cause;
    }

    /** {@code error} and its causes (at most {@link #MAX_CAUSES}, each once). */
    static ScrubbedThrowable of(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        java.util.ArrayList<Throwable> chain = new java.util.ArrayList<>();
        for (Throwable next = error; next != null && chain.size() < MAX_CAUSES && seen.add(next); next = next.getCause()) {
            chain.add(next);
        }
        ScrubbedThrowable wrapped = null;
        for (int i = chain.size() - 1; i >= 0; i--) {
            wrapped = new ScrubbedThrowable(chain.get(i), wrapped);
        }
        return wrapped;
    }

    @Override
    public String getClassName() {
        return className;
    }

    @Override
    public String getMessage() {
        return message;
    }

    @Override
    public StackTraceElement[] getStackTrace() {
        return frames;
    }

    @Override
    public ThrowableWrapper getCause() {
        return cause;
    }

    @Override
    public Throwable getThrowable() {
        return throwable;
    }

    @Override
    public RollbarThread getRollbarThread() {
        return null;
    }

    @Override
    public Map<Thread, StackTraceElement[]> getAllStackTraces() {
        return null;
    }

    @Override
    public List<RollbarThread> getRollbarThreads() {
        return null;
    }
}
