package io.dijiang4j.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dijiang4j.adapters.DiJiangChatModel;
import io.dijiang4j.plugin.profile.ProfileException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bad profile is one ProfileException whose message names the file, the line or key and the problem. */
class ProfileErrorsIT {
    @TempDir
    Path temp;

    private ProfileException failure(String yaml) throws IOException {
        Path file = temp.resolve("bad.yaml");
        Files.writeString(file, yaml);
        return assertThrows(ProfileException.class, () -> DiJiangChatModel.fromProfile(file));
    }

    private static void assertMentions(ProfileException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void malformedYaml() throws IOException {
        assertMentions(failure("model: " + Stories260K.dir() + "\nmode: [hybrid\n"), "bad.yaml", "not valid YAML");
    }

    @Test
    void missingModel() throws IOException {
        assertMentions(
                failure("model: " + temp.resolve("no-such-model") + "\nmode: hybrid\n"),
                "bad.yaml",
                "line 1",
                "no-such-model",
                "does not exist");
    }

    @Test
    void unknownMode() throws IOException {
        assertMentions(failure("model: " + Stories260K.dir() + "\nmode: quadratic\n"), "line 2", "mode", "quadratic");
    }

    @Test
    void missingProfileFile() {
        ProfileException e =
                assertThrows(ProfileException.class, () -> DiJiangChatModel.fromProfile(temp.resolve("absent.yaml")));
        assertMentions(e, "absent.yaml", "not found");
    }
}
