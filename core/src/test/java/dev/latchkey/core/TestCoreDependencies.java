package dev.latchkey.core;

import com.tngtech.archunit.core.domain.JavaAnnotation;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.EvaluationResult;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import dev.latchkey.core.admin.AdminService;
import dev.latchkey.core.domain.AccountId;
import dev.latchkey.core.key.ApiKey;
import dev.latchkey.core.store.IdentityStore;
import dev.latchkey.core.store.memory.InMemoryIdentityStore;
import dev.latchkey.core.testing.TestingClock;
import org.jspecify.annotations.NullMarked;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.annotation.Annotation;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Core depends on the JDK and Caffeine only, and carries no framework annotations (style guide, "Shape" 1 and 5).
 */
public class TestCoreDependencies
{
    private static final String CORE = "dev.latchkey.core..";
    /** JSpecify's nullness annotations: no behaviour, no framework; Caffeine carries them too. */
    private static final String NULLNESS = "org.jspecify.annotations";

    private static final ArchRule ONLY_JDK_AND_CAFFEINE = classes()
            .that().resideInAPackage(CORE)
            .should().onlyDependOnClassesThat().resideInAnyPackage("java..", "javax.crypto..", CORE, "com.github.benmanes.caffeine..", NULLNESS)
            .because("core depends on the JDK and Caffeine only (and the nullness annotations Caffeine uses): no Guice, Jackson, Micrometer, SLF4J, JDBC or AWS types");

    private static final ArchRule NO_JDBC = noClasses()
            .that().resideInAPackage(CORE)
            .should().dependOnClassesThat().resideInAnyPackage("java.sql..", "javax.sql..")
            .because("JDBC belongs to the JDBC adapter");

    private static final ArchRule ONLY_JDK_ANNOTATIONS = classes()
            .that().resideInAPackage(CORE)
            .should(carryOnlyJdkAnnotations())
            .because("core classes carry no framework annotations: app-http builds them in @Provides methods");

    private static final JavaClasses CORE_MAIN_CLASSES = new ClassFileImporter()
            .withImportOption(new ImportOption.DoNotIncludeTests())
            .importPackages("dev.latchkey.core");

    @Test
    public void testImportsCoreMainClassesOnly()
    {
        // a rule over nothing would prove nothing
        assertThat(CORE_MAIN_CLASSES).isNotEmpty();
        assertThat(CORE_MAIN_CLASSES.contain(AdminService.class)).isTrue();
        assertThat(CORE_MAIN_CLASSES.contain(ApiKey.class)).isTrue();
        assertThat(CORE_MAIN_CLASSES.contain(AccountId.class)).isTrue();
        assertThat(CORE_MAIN_CLASSES.contain(IdentityStore.class)).isTrue();
        assertThat(CORE_MAIN_CLASSES.contain(InMemoryIdentityStore.class)).isTrue();
        assertThat(CORE_MAIN_CLASSES.contain(TestingClock.class)).isFalse();
        assertThat(CORE_MAIN_CLASSES.contain(TestCoreDependencies.class)).isFalse();
    }

    @Test
    public void testCoreDependsOnlyOnJdkAndCaffeine()
    {
        ONLY_JDK_AND_CAFFEINE.check(CORE_MAIN_CLASSES);
    }

    @Test
    public void testCoreDoesNotUseJdbc()
    {
        NO_JDBC.check(CORE_MAIN_CLASSES);
    }

    @Test
    public void testCoreCarriesOnlyJdkAnnotations()
    {
        ONLY_JDK_ANNOTATIONS.check(CORE_MAIN_CLASSES);
    }

    @Test
    public void testDependencyRuleRejectsLibraryTypes()
    {
        // the fixtures live in a core package and use library types, as a Jackson or Guice import would
        EvaluationResult result = ONLY_JDK_AND_CAFFEINE.evaluate(fixtures());
        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().toString())
                .contains(DependsOnLibrary.class.getName() + ".classes")
                .contains("com.tngtech.archunit.core.domain.JavaClasses")
                .contains("org.junit.jupiter.api.Tag");
    }

    @Test
    public void testAnnotationRuleRejectsLibraryAnnotations()
    {
        EvaluationResult result = ONLY_JDK_ANNOTATIONS.evaluate(fixtures());
        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().getDetails())
                .hasSize(4)
                .anySatisfy(violation(AnnotatedClass.class, Tag.class))
                .anySatisfy(violation(AnnotatedMethod.class, Tag.class))
                .anySatisfy(violation(AnnotatedField.class, TempDir.class))
                .anySatisfy(violation(AnnotatedParameter.class, TempDir.class));
        // JDK and nullness annotations are fine
        assertThat(ONLY_JDK_ANNOTATIONS.evaluate(new ClassFileImporter().importClasses(JdkAnnotated.class, NullnessAnnotated.class)).hasViolation()).isFalse();
        assertThat(ONLY_JDK_AND_CAFFEINE.evaluate(new ClassFileImporter().importClasses(NullnessAnnotated.class)).hasViolation()).isFalse();
    }

    private static JavaClasses fixtures()
    {
        return new ClassFileImporter().importClasses(
                DependsOnLibrary.class,
                AnnotatedClass.class,
                AnnotatedMethod.class,
                AnnotatedField.class,
                AnnotatedParameter.class);
    }

    private static Consumer<String> violation(Class<?> fixture, Class<? extends Annotation> annotation)
    {
        return detail -> assertThat(detail).startsWith(fixture.getName() + ": ").contains("<" + annotation.getName() + ">");
    }

    private static ArchCondition<JavaClass> carryOnlyJdkAnnotations()
    {
        return new ArchCondition<>("carry only annotations from java.* and the nullness annotations")
        {
            @Override
            public void check(JavaClass javaClass, ConditionEvents events)
            {
                annotationsOf(javaClass)
                        .filter(annotation -> !annotation.getRawType().getPackageName().startsWith("java."))
                        .filter(annotation -> !annotation.getRawType().getPackageName().equals(NULLNESS))
                        .map(annotation -> javaClass.getName() + ": " + annotation.getDescription())
                        .forEach(message -> events.add(SimpleConditionEvent.violated(javaClass, message)));
            }
        };
    }

    /**
     * The annotations on a class, its fields, methods and constructors, and their parameters.
     */
    private static Stream<JavaAnnotation<?>> annotationsOf(JavaClass javaClass)
    {
        Stream<JavaAnnotation<?>> onClass = javaClass.getAnnotations().stream().map(annotation -> annotation);
        Stream<JavaAnnotation<?>> onMembers = javaClass.getMembers().stream()
                .flatMap(member -> member.getAnnotations().stream());
        Stream<JavaAnnotation<?>> onParameters = javaClass.getCodeUnits().stream()
                .map(JavaCodeUnit::getParameters)
                .flatMap(parameters -> parameters.stream().flatMap(parameter -> parameter.getAnnotations().stream()));
        return Stream.of(onClass, onMembers, onParameters).flatMap(annotations -> annotations);
    }

    // fixtures: code that core must never contain

    static final class DependsOnLibrary
    {
        JavaClasses classes;
    }

    @Tag("fixture")
    static final class AnnotatedClass {}

    static final class AnnotatedMethod
    {
        @Tag("fixture")
        void run() {}
    }

    static final class AnnotatedField
    {
        @TempDir
        Path directory;
    }

    static final class AnnotatedParameter
    {
        void accept(@TempDir Path directory) {}
    }

    @FunctionalInterface
    interface JdkAnnotated
    {
        @Deprecated
        void run();
    }

    @NullMarked
    static final class NullnessAnnotated
    {
        @Nullable String optional;

        void run(@Nullable String value) {}
    }
}
