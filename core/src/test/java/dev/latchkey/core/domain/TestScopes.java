package dev.latchkey.core.domain;

import dev.latchkey.core.error.ErrorCode;
import dev.latchkey.core.error.LatchkeyException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TestScopes
{
    @Test
    public void starGrantsEverything()
    {
        Scopes all = Scopes.all();
        assertThat(all.grants("docs:read")).isTrue();
        assertThat(all.grants("*")).isTrue();
        assertThat(all.grants("latchkey:admin")).isTrue();
        assertThat(all.mayAdminister()).isTrue();
        assertThat(all.values()).containsExactly("*");
    }

    @Test
    public void aTrailingStarGrantsEveryScopeWithThatBeginning()
    {
        Scopes docs = Scopes.of("docs:*");
        assertThat(docs.grants("docs:read")).isTrue();
        assertThat(docs.grants("docs:")).isTrue();
        assertThat(docs.grants("docs:read:drafts")).isTrue();
        assertThat(docs.grants("docs")).isFalse();
        assertThat(docs.grants("doc:read")).isFalse();
        assertThat(docs.grants("billing:read")).isFalse();
    }

    @Test
    public void anyOtherScopeGrantsExactlyItself()
    {
        Scopes scopes = Scopes.of("docs:read", "a*b");
        assertThat(scopes.grants("docs:read")).isTrue();
        assertThat(scopes.grants("docs:read2")).isFalse();
        assertThat(scopes.grants("docs:rea")).isFalse();
        assertThat(scopes.grants("Docs:read")).as("case sensitive").isFalse();
        assertThat(scopes.grants("a*b")).as("a star inside a scope is a plain character").isTrue();
        assertThat(scopes.grants("axb")).isFalse();
    }

    @Test
    public void grantsAllNeedsEveryRequestedScope()
    {
        Scopes scopes = Scopes.of("docs:read", "billing:*");
        assertThat(scopes.grantsAll(List.of())).isTrue();
        assertThat(scopes.grantsAll(List.of("docs:read", "billing:write"))).isTrue();
        assertThat(scopes.grantsAll(List.of("docs:read", "docs:write"))).isFalse();
    }

    @Test
    public void onlyStarOrTheAdminScopeItselfMayAdminister()
    {
        assertThat(Scopes.of("latchkey:admin").mayAdminister()).isTrue();
        assertThat(Scopes.of("docs:read", "latchkey:admin").mayAdminister()).isTrue();
        assertThat(Scopes.of("latchkey:*").mayAdminister()).as("a wildcard is not the admin scope").isFalse();
        assertThat(Scopes.of("docs:read").mayAdminister()).isFalse();
        assertThat(Scopes.of("latchkey:admin").grants("latchkey:admin")).isTrue();
    }

    @Test
    public void duplicatesAreDroppedAndTheOrderKept()
    {
        Scopes scopes = Scopes.of("b", "a", "b");
        assertThat(scopes.values()).containsExactly("b", "a");
        assertThat(scopes.joined()).isEqualTo("b a");
        assertThat(scopes).isEqualTo(Scopes.of("b", "a"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "docs read", "docs,read", "é", "docs:read?", "a\nb"})
    public void malformedScopesAreRefused(String scope)
    {
        assertInvalid(() -> Scopes.of(scope));
        assertInvalid(() -> Scopes.checkScope(scope, "scope"));
    }

    @Test
    public void scopesHaveBoundedLengthAndNumber()
    {
        String longest = "a".repeat(Scopes.MAX_LENGTH);
        assertThat(Scopes.of(longest).values()).containsExactly(longest);
        assertInvalid(() -> Scopes.of(longest + "a"));
        List<String> most = IntStream.range(0, Scopes.MAX_SCOPES).mapToObj(i -> "s" + i).toList();
        assertThat(new Scopes(most).values()).hasSize(Scopes.MAX_SCOPES);
        assertInvalid(() -> new Scopes(IntStream.range(0, Scopes.MAX_SCOPES + 1).mapToObj(i -> "s" + i).toList()));
        assertInvalid(() -> new Scopes(Collections.emptyList()));
        assertThat(Scopes.of("A-Z_a.z:0/9*-").values()).hasSize(1);
    }

    @Test
    public void keyNamesFollowTheirRules()
    {
        assertThat(KeyName.of("ci job for ana@example.com").value()).isEqualTo("ci job for ana@example.com");
        assertThat(KeyName.of("x".repeat(KeyName.MAX_LENGTH)).value()).hasSize(KeyName.MAX_LENGTH);
        for (String bad : new String[] {"", "   ", "x".repeat(KeyName.MAX_LENGTH + 1), "tab\there", "name/with/slash", "ünïcode"}) {
            assertThatThrownBy(() -> KeyName.of(bad)).as(bad)
                    .isInstanceOfSatisfying(LatchkeyException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
                        assertThat(e.field()).contains(KeyName.FIELD);
                    });
        }
    }

    private static void assertInvalid(org.assertj.core.api.ThrowableAssert.ThrowingCallable call)
    {
        assertThatThrownBy(call).isInstanceOfSatisfying(LatchkeyException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
}
