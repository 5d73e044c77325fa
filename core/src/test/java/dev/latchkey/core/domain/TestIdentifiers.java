package dev.latchkey.core.domain;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.stream.Stream;

import static dev.latchkey.core.testing.ErrorAssertions.assertInvalidField;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TestIdentifiers
{
    private static final String ALL_ALLOWED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@";

    @ParameterizedTest
    @MethodSource("validIdentifiers")
    public void testValidAccountId(String value)
    {
        assertThat(AccountId.of(value).value()).isEqualTo(value);
        assertThat(new AccountId(value).toString()).isEqualTo(value);
    }

    @ParameterizedTest
    @MethodSource("validIdentifiers")
    public void testValidUserId(String value)
    {
        assertThat(UserId.of(value).value()).isEqualTo(value);
        assertThat(new UserId(value).toString()).isEqualTo(value);
    }

    @ParameterizedTest
    @MethodSource("invalidIdentifiers")
    public void testInvalidAccountId(String value)
    {
        assertInvalidField(() -> new AccountId(value), "account_id");
    }

    @ParameterizedTest
    @MethodSource("invalidIdentifiers")
    public void testInvalidUserId(String value)
    {
        assertInvalidField(() -> new UserId(value), "user_id");
    }

    @Test
    public void testNullIdentifier()
    {
        assertInvalidField(() -> new AccountId(null), "account_id");
        assertInvalidField(() -> new UserId(null), "user_id");
    }

    @ParameterizedTest
    @ValueSource(strings = {"_", "_acme", "__", "_.", "_@acme"})
    public void testAccountIdMustNotStartWithUnderscore(String value)
    {
        assertInvalidField(() -> new AccountId(value), "account_id");
        // the same text is a valid user id
        assertThat(UserId.of(value).value()).isEqualTo(value);
    }

    @Test
    public void testUnderscoreAllowedInsideAccountId()
    {
        assertThat(AccountId.of("acme_corp").value()).isEqualTo("acme_corp");
        assertThat(AccountId.of("acme_").value()).isEqualTo("acme_");
        assertThat(UserId.of("_bob").value()).isEqualTo("_bob");
    }

    @Test
    public void testCaseSensitive()
    {
        assertThat(AccountId.of("Acme")).isNotEqualTo(AccountId.of("acme"));
        assertThat(AccountId.of("ACME")).isNotEqualTo(AccountId.of("acme"));
        assertThat(UserId.of("Alice")).isNotEqualTo(UserId.of("alice"));
        assertThat(AccountId.of("acme")).isEqualTo(AccountId.of("acme")).hasSameHashCodeAs(AccountId.of("acme"));
        // ordinal order: every upper-case letter sorts before every lower-case one
        assertThat(List.of(AccountId.of("acme"), AccountId.of("Zeta"), AccountId.of("Acme")).stream().sorted().toList())
                .containsExactly(AccountId.of("Acme"), AccountId.of("Zeta"), AccountId.of("acme"));
        assertThat(List.of(UserId.of("bob"), UserId.of("Bob"), UserId.of("alice")).stream().sorted().toList())
                .containsExactly(UserId.of("Bob"), UserId.of("alice"), UserId.of("bob"));
    }

    @Test
    public void testKeyId()
    {
        KeyId keyId = KeyId.of("0123456789ABCDEF");
        assertThat(keyId.value()).isEqualTo("0123456789ABCDEF");
        assertThat(keyId.toString()).isEqualTo("0123456789ABCDEF");
        assertThat(keyId.keyPrefix()).isEqualTo("lk_0123456789ABCDEF");
        assertThat(KeyId.of("zzzzzzzzzzzzzzzz").value()).hasSize(KeyId.LENGTH);
        assertThat(KeyId.of("abcdefABCDEF0123")).isNotEqualTo(KeyId.of("ABCDEFabcdef0123"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0000000000000000", "zzzzzzzzzzzzzzzz", "0000000zzzzzzzzz", "zzzzzzzz00000000", "x11OoPcpmUHSmK2s", "00000000000000A0"})
    public void testKeyIdRoundTripsThroughItsCompactForm(String value)
    {
        KeyId keyId = KeyId.of(value);
        assertThat(keyId.value()).isEqualTo(value);
        assertThat(keyId).isEqualTo(KeyId.of(new String(value))).hasSameHashCodeAs(KeyId.of(new String(value)));
        assertThat(KeyId.of("lk_" + value + "_rest", 3)).isEqualTo(keyId);
    }

    @Test
    public void testKeyIdsDifferingInOneHalfDiffer()
    {
        assertThat(KeyId.of("0000000000000001")).isNotEqualTo(KeyId.of("0000000100000000"));
        assertThat(KeyId.of("0000000000000001")).isNotEqualTo(KeyId.of("0000000000000000"));
        assertThat(KeyId.of("1000000000000000")).isNotEqualTo(KeyId.of("0000000000000000"));
    }

    @Test
    public void testKeyIdAtOffsetChecksBounds()
    {
        assertThatThrownBy(() -> KeyId.of("lk_0123456789ABCDE", 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KeyId.of("0123456789ABCDEF", -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KeyId.of("lk_0123456789ABCD-F", 3)).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "", "0123456789ABCDE", "0123456789ABCDEF0", "0123456789ABCDE_", "0123456789ABCDE-", "0123456789ABCDE ", "0123456789ABCDEé"})
    public void testInvalidKeyId(String value)
    {
        assertThatThrownBy(() -> KeyId.of(value)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    public void testNullKeyId()
    {
        assertThatThrownBy(() -> KeyId.of(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    public void testRoleFromWireName()
    {
        assertThat(Role.fromWireName("admin", "role")).isEqualTo(Role.ADMIN);
        assertThat(Role.fromWireName("user", "role")).isEqualTo(Role.USER);
        // parsed, so that assigning it is refused as PERMISSION_DENIED rather than INVALID_ARGUMENT
        assertThat(Role.fromWireName("root", "role")).isEqualTo(Role.ROOT);
        for (Role role : Role.values()) {
            assertThat(Role.fromWireName(role.wireName(), "role")).isEqualTo(role);
        }
        assertThat(Role.ADMIN.wireName()).isEqualTo("admin");
        assertThat(Role.USER.wireName()).isEqualTo("user");
        assertThat(Role.ROOT.wireName()).isEqualTo("root");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Admin", "ADMIN", "USER", "Root", " admin", "admin ", "", "administrator", "guest"})
    public void testRoleFromWireNameRejects(String text)
    {
        assertInvalidField(() -> Role.fromWireName(text, "role"), "role");
    }

    @Test
    public void testRoleFromWireNameNamesTheGivenField()
    {
        assertInvalidField(() -> Role.fromWireName(null, "role"), "role");
        assertInvalidField(() -> Role.fromWireName("owner", "new_role"), "new_role");
    }

    private static Stream<String> validIdentifiers()
    {
        return Stream.of(
                "a",
                "Z",
                "7",
                "-",
                "a".repeat(128),
                ALL_ALLOWED,
                ALL_ALLOWED.replace("@", ""),
                ALL_ALLOWED.repeat(2).replace("@", "").substring(0, 128),
                "alice@example.com",
                "@",
                "@acme",
                "acme@",
                "...",
                ".acme",
                "acme.",
                "a..b",
                "a-b_c.d",
                "0123456789");
    }

    private static Stream<String> invalidIdentifiers()
    {
        return Stream.of(
                "",
                "a".repeat(129),
                "a".repeat(1000),
                ".",
                "..",
                "a@b@c",
                "@@",
                "alice@example@com",
                " ",
                "a b",
                " acme",
                "acme ",
                "a/b",
                "/",
                "a\\b",
                "é",
                "café",
                "acmé",
                "Ａcme",
                "a\u0661",
                "a:b",
                "a+b",
                "a%2Fb",
                "a*b",
                "a?b",
                "a\0b",
                "a\nb",
                "a\tb",
                "a'b",
                "a\"b",
                "a#b",
                "acme\uD83D\uDE00");
    }
}
