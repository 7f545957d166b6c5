package io.dijiang4j.adapters.state;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.resps.Tuple;

/**
 * States in Redis, shared by every runtime and process that points at the same server: a conversation started on one
 * replica continues on another with prefix reuse.
 *
 * <p>Layout (all keys under the namespace, all with the TTL): {@code s:<digest>} holds one state, where the digest
 * hashes the scope and the exact token prefix ({@link PrefixDigests}); {@code i:<anchor>} is a sorted set of the
 * states whose tokens start with the same first {@link Settings#anchorTokens} tokens (member: the state's digest,
 * score: its token count). A lookup reads the anchor's set (one round trip), computes the digests of the prompt's
 * prefixes at the listed lengths locally, and fetches the longest that matches (a second round trip): prefixes that
 * differ cost no request. Sequences shorter than the anchor are not shared.
 *
 * <p>Each value carries its digest, token count and a CRC32C of the state; a value that fails them is deleted and
 * reported as {@link StateStoreException}, so a damaged or misfiled state costs a re-prefill, never a wrong answer.
 * Requires the optional dependency {@code redis.clients:jedis}.
 */
public final class RedisPrefixStateStore implements PrefixStateStore {
    private static final int MAGIC = 0x444a5053; // "DJPS"
    private static final int VERSION = 1;
    private static final int HEADER = 4 + 4 + PrefixDigests.BYTES + 4 + 8 + 4;

    /**
     * @param namespace prefix of every key
     * @param ttl how long a state and its index live after they were last written
     * @param maxStateBytes larger states are not stored (softmax KV rows of long prompts)
     * @param anchorTokens the first tokens that group the states of one conversation (shorter sequences are not shared)
     * @param maxPerAnchor states kept per anchor (the longest win)
     */
    public record Settings(String namespace, Duration ttl, long maxStateBytes, int anchorTokens, int maxPerAnchor) {
        public Settings {
            if (namespace == null || namespace.isEmpty()) throw new IllegalArgumentException("empty Redis namespace");
            if (ttl == null || ttl.toMillis() <= 0) throw new IllegalArgumentException("state TTL must be positive");
            if (maxStateBytes <= 0) throw new IllegalArgumentException("max state bytes must be positive");
            if (anchorTokens < 1) throw new IllegalArgumentException("anchor tokens must be >= 1");
            if (maxPerAnchor < 1) throw new IllegalArgumentException("states per anchor must be >= 1");
        }

        public static Settings defaults() {
            return new Settings("dijiang4j:", Duration.ofHours(1), 64L << 20, 8, 256);
        }

        public Settings withTtl(Duration t) {
            return new Settings(namespace, t, maxStateBytes, anchorTokens, maxPerAnchor);
        }

        public Settings withMaxStateBytes(long bytes) {
            return new Settings(namespace, ttl, bytes, anchorTokens, maxPerAnchor);
        }

        public Settings withNamespace(String ns) {
            return new Settings(ns, ttl, maxStateBytes, anchorTokens, maxPerAnchor);
        }
    }

    private final UnifiedJedis redis;
    private final Settings settings;
    private final String where;

    private RedisPrefixStateStore(UnifiedJedis redis, Settings settings, String where) {
        this.redis = redis;
        this.settings = settings;
        this.where = where;
    }

    /**
     * A store on the Redis server at {@code uri} ({@code redis://host:port[/db]}). Connects lazily: a server that is
     * down now fails the calls (each a re-prefill), not the construction.
     *
     * @param timeout connect and read timeout of each call: what a store that is down costs a request at most
     */
    public static RedisPrefixStateStore connect(String uri, Duration timeout, Settings settings) {
        java.net.URI parsed;
        try {
            parsed = java.net.URI.create(uri);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad Redis URI '" + uri + "': " + e.getMessage());
        }
        if (!"redis".equals(parsed.getScheme()) || parsed.getHost() == null) {
            throw new IllegalArgumentException("bad Redis URI '" + uri + "' (expected redis://host:port)");
        }
        int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        RedisClient client = RedisClient.builder()
                .fromURI(parsed)
                .clientConfig(DefaultJedisClientConfig.builder()
                        .connectionTimeoutMillis(millis)
                        .socketTimeoutMillis(millis)
                        .build())
                .build();
        return new RedisPrefixStateStore(client, settings, parsed.getHost() + ":" + parsed.getPort());
    }

    @Override
    public Optional<SavedState> longestPrefix(String scope, int[] prompt) {
        int anchor = settings.anchorTokens;
        if (prompt.length <= anchor) return Optional.empty();
        byte[] indexKey = key("i:", PrefixDigests.of(scope, prompt, anchor));
        List<Tuple> candidates;
        try {
            candidates =
                    redis.zrevrangeByScoreWithScores(indexKey, prompt.length - 1, anchor, 0, settings.maxPerAnchor);
        } catch (JedisException e) {
            throw down("read", e);
        }
        if (candidates.isEmpty()) return Optional.empty();
        int[] lengths = candidates.stream()
                .mapToInt(t -> (int) t.getScore())
                .distinct()
                .sorted()
                .toArray();
        byte[][] digests = PrefixDigests.at(scope, prompt, lengths);
        for (Tuple candidate : candidates) { // longest first
            int length = (int) candidate.getScore();
            byte[] digest = digests[Arrays.binarySearch(lengths, length)];
            if (!Arrays.equals(candidate.getBinaryElement(), digest)) continue;
            byte[] stateKey = key("s:", digest);
            byte[] value;
            try {
                value = redis.get(stateKey);
            } catch (JedisException e) {
                throw down("read", e);
            }
            if (value == null) { // expired or evicted: drop it from the index
                try {
                    redis.zrem(indexKey, digest);
                } catch (JedisException e) {
                    throw down("write", e);
                }
                continue;
            }
            return Optional.of(new SavedState(length, open(value, digest, length, stateKey)));
        }
        return Optional.empty();
    }

    @Override
    public void save(String scope, int[] tokens, byte[] state) {
        int anchor = settings.anchorTokens;
        if (tokens.length < anchor || state.length > settings.maxStateBytes) return;
        byte[][] digests = PrefixDigests.at(scope, tokens, new int[] {anchor, tokens.length});
        byte[] indexKey = key("i:", digests[0]);
        long ttl = settings.ttl.toMillis();
        try {
            redis.set(
                    key("s:", digests[1]),
                    seal(digests[1], tokens.length, state),
                    SetParams.setParams().px(ttl));
            redis.zadd(indexKey, tokens.length, digests[1]);
            // the longest states of the conversation stay; older, shorter turns go first
            redis.zremrangeByRank(indexKey, 0, -settings.maxPerAnchor - 1L);
            redis.pexpire(indexKey, ttl);
        } catch (JedisException e) {
            throw down("write", e);
        }
    }

    private byte[] key(String kind, byte[] digest) {
        return (settings.namespace + kind + HexFormat.of().formatHex(digest)).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] seal(byte[] digest, int tokens, byte[] state) {
        CRC32C crc = new CRC32C();
        crc.update(state);
        return ByteBuffer.allocate(HEADER + state.length)
                .putInt(MAGIC)
                .putInt(VERSION)
                .put(digest)
                .putInt(tokens)
                .putLong(crc.getValue())
                .putInt(state.length)
                .put(state)
                .array();
    }

    /** The state inside a stored value, after checking it is the one asked for and undamaged. */
    private byte[] open(byte[] value, byte[] digest, int tokens, byte[] stateKey) {
        String problem = check(value, digest, tokens);
        if (problem == null) return Arrays.copyOfRange(value, HEADER, value.length);
        try {
            redis.del(stateKey);
        } catch (JedisException ignored) {
            // the damage is reported below either way
        }
        throw new StateStoreException(
                "saved state of " + tokens + " tokens in Redis " + where + " " + problem + "; deleted it");
    }

    /** Null when the value holds the state of {@code digest} with a matching checksum, else what is wrong. */
    static String check(byte[] value, byte[] digest, int tokens) {
        if (value.length < HEADER) return "is truncated";
        ByteBuffer in = ByteBuffer.wrap(value);
        if (in.getInt() != MAGIC || in.getInt() != VERSION) return "is not a dijiang4j state (magic or version)";
        byte[] stored = new byte[PrefixDigests.BYTES];
        in.get(stored);
        if (!MessageDigest.isEqual(stored, digest) || in.getInt() != tokens) return "belongs to another prefix";
        long crc = in.getLong();
        int length = in.getInt();
        if (length != value.length - HEADER) return "is truncated";
        CRC32C actual = new CRC32C();
        actual.update(value, HEADER, length);
        return actual.getValue() == crc ? null : "fails its checksum";
    }

    private StateStoreException down(String what, JedisException e) {
        return new StateStoreException(
                "Redis " + where + " could not " + what + " (" + e.getClass().getSimpleName() + ": " + e.getMessage()
                        + ")",
                e);
    }

    @Override
    public long bytes() {
        return 0;
    }

    /** Deletes every key of this store's namespace (KEYS + DEL; for tests and operators, not the request path). */
    @Override
    public void clear() {
        try {
            for (String key : redis.keys(settings.namespace + "*")) redis.del(key);
        } catch (JedisException e) {
            throw down("clear", e);
        }
    }

    @Override
    public void close() {
        redis.close();
    }
}
