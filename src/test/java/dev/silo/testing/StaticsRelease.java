package dev.silo.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

/**
 * Runs after every top-level test class (registered for all of them through {@code META-INF/services} and
 * {@code junit-platform.properties}): closes the Silo nodes the class started and left running, then sets the
 * class's static fields to {@code null}. A test class stays loaded until the run ends, and with it whatever its
 * static fields hold: closed nodes with their pools, caches and buffers piled up (16 after four classes) until the
 * test JVM needed a 2 GB heap. Nothing reads a class's fields once its {@code @AfterAll} methods have run.
 * Final fields are left alone (constants); the shared node stays, being held by {@link TestingSilo}.
 */
public final class StaticsRelease implements AfterAllCallback {
    @Override
    public void afterAll(ExtensionContext context) throws IllegalAccessException {
        Class<?> testClass = context.getRequiredTestClass();
        if (testClass.getEnclosingClass() != null && !Modifier.isStatic(testClass.getModifiers())) {
            return; // a @Nested class: its outer class is still running
        }
        TestingSilo.closeStartedNodes();
        for (Field field : testClass.getDeclaredFields()) {
            int modifiers = field.getModifiers();
            if (Modifier.isStatic(modifiers) && !Modifier.isFinal(modifiers) && !field.getType().isPrimitive()) {
                field.setAccessible(true);
                field.set(null, null);
            }
        }
    }
}
