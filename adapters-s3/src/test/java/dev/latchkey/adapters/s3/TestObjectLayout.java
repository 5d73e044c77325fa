package dev.latchkey.adapters.s3;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TestObjectLayout
{
    @Test
    void feedPagesHoldThirtyTwoConsecutivePositions()
    {
        assertThat(ObjectLayout.pageStart(1)).isEqualTo(1);
        assertThat(ObjectLayout.pageStart(32)).isEqualTo(1);
        assertThat(ObjectLayout.pageStart(33)).isEqualTo(33);
        assertThat(ObjectLayout.pageStart(65)).isEqualTo(65);
        assertThat(ObjectLayout.page(33)).isEqualTo("feed/00000000000000000033.json");
        assertThat(ObjectLayout.pageOfListedName("00000000000000000033.json")).contains(33L);
        assertThat(ObjectLayout.pageOfListedName("33.json")).isEmpty();
        assertThat(ObjectLayout.pageOfListedName("99999999999999999999.json")).as("past the largest position").isEmpty();
    }

    @Test
    void theAuditHorizonAndTheUsageOfEachInstanceLiveBesideTheFeed()
    {
        assertThat(ObjectLayout.AUDIT_HORIZON).isEqualTo("audit-horizon.json");
        assertThat(ObjectLayout.usage("host-1:8080")).isEqualTo("usage/host-1:8080.json").startsWith(ObjectLayout.USAGE);
    }

    @Test
    void eachInstanceHasItsRecordInTheRegistry()
    {
        assertThat(ObjectLayout.instance("host-1:8080")).isEqualTo("instances/host-1:8080.json").startsWith(ObjectLayout.INSTANCES);
        assertThat(ObjectLayout.instanceOfListedName("host-1:8080.json")).contains("host-1:8080");
        assertThat(ObjectLayout.instanceOfListedName(".json")).isEmpty();
        assertThat(ObjectLayout.instanceOfListedName("notes.txt")).isEmpty();
        assertThat(ObjectLayout.instanceOfListedName("nested/")).isEmpty();
    }

    @Test
    void objectsOfAnAccountIncarnationLiveUnderIt()
    {
        assertThat(ObjectLayout.account("acme")).isEqualTo("accounts/acme/account.json");
        assertThat(ObjectLayout.user("acme", "inc-1", "bob")).isEqualTo("accounts/acme/inc-1/users/bob.json").startsWith(ObjectLayout.users("acme", "inc-1"));
        assertThat(ObjectLayout.key("k1")).isEqualTo("keys/k1.json");
        assertThat(ObjectLayout.accountOfListedName("acme/")).contains("acme");
        assertThat(ObjectLayout.accountOfListedName("stray.json")).isEmpty();
        assertThat(ObjectLayout.userOfListedName("bob.json")).contains("bob");
        assertThat(ObjectLayout.userOfListedName("nested/")).isEmpty();
    }
}
