package io.dijiang4j.plugin.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The profile key {@code budget} (exact tokens per head the calibration-free hybrid splits itself) and the default
 * memory of each mode: the split, the precedence of explicit {@code sinks} / {@code window} / {@code exact_cache},
 * errors naming the key, and {@link Profile#withBudget} / {@link Profile#withMode} following the same rules.
 */
class BudgetTest {
    @TempDir
    Path temp;

    private Profile load(String body) throws Exception {
        Files.createDirectories(temp.resolve("m"));
        Path f = temp.resolve("p.yaml");
        Files.writeString(f, "model: m\n" + body);
        return ProfileLoader.load(f);
    }

    private static void assertSplit(Profile p, int sinks, int window, int cache) {
        assertEquals(sinks, p.sinks(), "sinks");
        assertEquals(window, p.window(), "window");
        assertEquals(cache, p.exactCache(), "exact_cache");
    }

    @Test
    void aBudgetAloneGivesFourSinksNoCacheAndTheRestAsWindowWithTheOnlineMemory() throws Exception {
        Profile p = load("mode: hybrid\nbudget: 40\n");
        assertSplit(p, 4, 36, 0);
        assertEquals(FeatureMapKind.ONLINE, p.featureMap());
        assertTrue(p.source().sets("budget"));
        assertSplit(load("budget: 5\n"), 2, 3, 0); // small budgets keep half for the window
        assertSplit(load("budget: 1\n"), 0, 1, 0);
    }

    @Test
    void explicitSinksWindowAndCacheWinAndTheBudgetFillsTheRest() throws Exception {
        assertSplit(load("budget: 40\nsinks: 2\n"), 2, 38, 0);
        assertSplit(load("budget: 40\nexact_cache: 8\n"), 4, 28, 8);
        assertSplit(load("budget: 40\nwindow: 30\nexact_cache: 2\n"), 8, 30, 2); // then the sinks take it
        assertSplit(load("budget: 40\nsinks: 0\nwindow: 32\n"), 0, 32, 8); // the cache takes what is left
        assertSplit(load("budget: 40\nsinks: 4\nwindow: 30\nexact_cache: 6\n"), 4, 30, 6);
    }

    @Test
    void aBudgetThatCannotHoldTheSetKeysIsOneErrorNamingIt() throws Exception {
        Files.createDirectories(temp.resolve("m"));
        for (String body : new String[] {
            "budget: 40\nwindow: 50\n", "budget: 40\nsinks: 4\nwindow: 30\nexact_cache: 2\n", "budget: 0\n"
        }) {
            Path f = temp.resolve("bad.yaml");
            Files.writeString(f, "model: m\n" + body);
            ProfileException e = assertThrows(ProfileException.class, () -> ProfileLoader.load(f));
            assertTrue(e.getMessage().contains("budget"), e.getMessage());
            assertTrue(e.getMessage().contains("line 2"), "names the budget's line: " + e.getMessage());
        }
    }

    @Test
    void withoutABudgetTheDefaultsStayAndTheMemoryFollowsTheMode() throws Exception {
        Profile hybrid = load("mode: hybrid\n");
        assertSplit(hybrid, 4, 64, 0);
        assertEquals(FeatureMapKind.ONLINE, hybrid.featureMap());
        assertEquals(FeatureMapKind.WDCF, load("mode: dijiang\n").featureMap());
        assertEquals(FeatureMapKind.WDCF, hybrid.withMode(Mode.DIJIANG).featureMap(), "unset: follows the mode");
        assertEquals(
                FeatureMapKind.ONLINE,
                hybrid.withMode(Mode.DIJIANG).withMode(Mode.HYBRID).featureMap());
        Profile performer = load("mode: hybrid\nfeature_map: performer\n");
        assertEquals(FeatureMapKind.PERFORMER, performer.withMode(Mode.DIJIANG).featureMap(), "set: kept");
    }

    @Test
    void theShippedCalibrationFreeProfileIsFourSinksWindow36AndTheOnlineMemory() {
        Profile p = ProfileLoader.load(Path.of("../configs/calibration-free.yaml"));
        assertSplit(p, 4, 36, 0);
        assertEquals(FeatureMapKind.ONLINE, p.featureMap());
        assertEquals(64, p.features());
        assertEquals(Mode.HYBRID, p.mode());
    }

    @Test
    void withBudgetSplitsLikeTheKeyAndKeepsTheSetValues() throws Exception {
        assertSplit(load("mode: hybrid\n").withBudget(40), 4, 36, 0);
        assertSplit(load("mode: hybrid\nexact_cache: 4\n").withBudget(24), 4, 16, 4);
        assertSplit(load("budget: 40\n").withBudget(20), 4, 16, 0);
        assertThrows(IllegalArgumentException.class, () -> load("window: 64\n").withBudget(40));
    }
}
