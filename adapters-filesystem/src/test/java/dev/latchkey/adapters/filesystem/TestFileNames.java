package dev.latchkey.adapters.filesystem;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class TestFileNames
{
    @Test
    void lowerCaseIdsAreTheirOwnNames()
    {
        assertThat(FileNames.encode("acme")).isEqualTo("acme");
        assertThat(FileNames.encode("a.b@c-d_0")).isEqualTo("a.b@c-d_0");
    }

    @Test
    void upperCaseLettersAreRecordedInAMask()
    {
        assertThat(FileNames.encode("Acme")).isEqualTo("acme~1");
        assertThat(FileNames.encode("aCmE")).isEqualTo("acme~a");
    }

    @Test
    void namesDecodeBackToTheirIds()
    {
        for (String id : List.of("acme", "Acme", "ACME", "a.B@c-D_9", "x".repeat(128), "X".repeat(128), "0123456789ABCDEF")) {
            assertThat(FileNames.decode(FileNames.encode(id))).isEqualTo(id);
        }
    }

    @Test
    void idsDifferingOnlyInCaseStayDistinctOnACaseFoldingFilesystem()
    {
        List<String> ids = List.of("bob", "Bob", "bOb", "boB", "BOB", "BoB");
        Set<String> folded = new HashSet<>();
        for (String id : ids) {
            folded.add(FileNames.encode(id).toLowerCase(Locale.ROOT));
        }
        assertThat(folded).hasSize(ids.size());
    }

    @Test
    void theLongestNameFitsEveryFilesystem()
    {
        assertThat(FileNames.encode("A".repeat(128)) + ".json").hasSizeLessThanOrEqualTo(255);
    }
}
