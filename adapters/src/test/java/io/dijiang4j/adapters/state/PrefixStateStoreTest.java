package io.dijiang4j.adapters.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/** Both stores: longest exact prefix, scopes kept apart, bounds, TTL; Redis against a real redis-server. */
class PrefixStateStoreTest {
    private static RedisProcess redis;

    @BeforeAll
    static void startRedis() {
        redis = RedisProcess.start();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    private static int[] tokens(Random r, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(50_000);
        return t;
    }

    private static byte[] state(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static void longestExactPrefix(PrefixStateStore store) {
        Random r = new Random(7);
        int[] conversation = tokens(r, 61);
        byte[] s20 = state(r, 300), s45 = state(r, 301);
        store.save("m1", java.util.Arrays.copyOf(conversation, 20), s20);
        store.save("m1", java.util.Arrays.copyOf(conversation, 45), s45);
        var hit = store.longestPrefix("m1", conversation).orElseThrow();
        assertEquals(45, hit.tokens());
        assertArrayEquals(s45, hit.state());
        // a proper prefix only: at least one token must remain to prefill
        var shorter = store.longestPrefix("m1", java.util.Arrays.copyOf(conversation, 45))
                .orElseThrow();
        assertEquals(20, shorter.tokens());
        assertArrayEquals(s20, shorter.state());
        // another scope (model or profile) never sees these states
        assertTrue(store.longestPrefix("m2", conversation).isEmpty());
        // a prompt that differs in one token inside the saved prefix falls back to the shorter state
        int[] edited = conversation.clone();
        edited[30] ^= 1;
        assertEquals(20, store.longestPrefix("m1", edited).orElseThrow().tokens());
        edited[10] ^= 1;
        assertTrue(store.longestPrefix("m1", edited).isEmpty());
    }

    @Test
    void localStoreFindsTheLongestExactPrefix() {
        longestExactPrefix(new LocalPrefixStateStore(8));
    }

    @Test
    void redisStoreFindsTheLongestExactPrefix() {
        try (RedisPrefixStateStore store =
                redis.store(RedisPrefixStateStore.Settings.defaults().withNamespace("t1:"))) {
            longestExactPrefix(store);
        }
    }

    @Test
    void localStoreEvictsLeastRecentlyUsedByCountAndBytes() {
        Random r = new Random(3);
        int[] a = tokens(r, 30), b = tokens(r, 30), c = tokens(r, 30);
        LocalPrefixStateStore store = new LocalPrefixStateStore(2, 1000, null);
        store.save("m", a, state(r, 400));
        store.save("m", b, state(r, 400));
        assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(a, 31)).isPresent()); // a is now the most recent
        store.save("m", c, state(r, 400)); // over both bounds: b (least recently used) goes
        assertEquals(2, store.size());
        assertEquals(800, store.bytes());
        assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(b, 31)).isEmpty());
        store.save("m", b, state(r, 900)); // over the byte bound alone: a and c go
        assertEquals(1, store.size());
        assertEquals(900, store.bytes());
        store.save("m", a, state(r, 1001)); // larger than the whole bound: not kept
        assertEquals(900, store.bytes());
    }

    @Test
    void localStoreExpiresAfterTheTtl() {
        AtomicLong now = new AtomicLong();
        LocalPrefixStateStore store = new LocalPrefixStateStore(4, 1 << 20, Duration.ofSeconds(10), now::get);
        Random r = new Random(5);
        int[] t = tokens(r, 12);
        store.save("m", t, state(r, 10));
        now.set(Duration.ofSeconds(9).toNanos());
        assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 13)).isPresent());
        now.set(Duration.ofSeconds(11).toNanos());
        assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 13)).isEmpty());
        assertEquals(0, store.bytes());
    }

    @Test
    void redisStoreExpiresAfterTheTtl() throws InterruptedException {
        try (RedisPrefixStateStore store = redis.store(
                RedisPrefixStateStore.Settings.defaults().withNamespace("t2:").withTtl(Duration.ofMillis(300)))) {
            Random r = new Random(9);
            int[] t = tokens(r, 40);
            store.save("m", t, state(r, 100));
            assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)).isPresent());
            Thread.sleep(600);
            assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)).isEmpty());
        }
    }

    @Test
    void redisStoreRefusesAndDeletesADamagedState() {
        try (RedisPrefixStateStore store =
                        redis.store(RedisPrefixStateStore.Settings.defaults().withNamespace("t3:"));
                RedisClient raw = RedisClient.create(java.net.URI.create(redis.uri()))) {
            Random r = new Random(11);
            int[] t = tokens(r, 40);
            store.save("m", t, state(r, 5000));
            String key = raw.keys("t3:s:*").iterator().next();
            byte[] value = raw.get(key.getBytes());
            value[value.length - 17] ^= 0x40; // one bit of the state
            raw.set(key.getBytes(), value);
            StateStoreException e = assertThrows(
                    StateStoreException.class, () -> store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)));
            assertTrue(e.getMessage().contains("fails its checksum"), e.getMessage());
            assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)).isEmpty(), "deleted");
        }
    }

    @Test
    void redisStoreKeepsStatesOverItsSizeLimitOut() {
        try (RedisPrefixStateStore store = redis.store(
                RedisPrefixStateStore.Settings.defaults().withNamespace("t4:").withMaxStateBytes(1000))) {
            Random r = new Random(13);
            int[] t = tokens(r, 40);
            store.save("m", t, state(r, 1001));
            assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)).isEmpty());
            store.save("m", t, state(r, 1000));
            assertTrue(store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)).isPresent());
        }
    }

    @Test
    void aStoppedRedisIsAStoreException() {
        try (RedisProcess own = RedisProcess.start();
                RedisPrefixStateStore store = own.store(RedisPrefixStateStore.Settings.defaults())) {
            Random r = new Random(17);
            int[] t = tokens(r, 40);
            store.save("m", t, state(r, 10));
            own.stop();
            assertThrows(StateStoreException.class, () -> store.longestPrefix("m", java.util.Arrays.copyOf(t, 41)));
            assertThrows(StateStoreException.class, () -> store.save("m", t, state(r, 10)));
        }
    }
}
