package io.dijiang4j.adapters.state;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 digests that name a saved state: the scope (model fingerprint and profile) and the token prefix it
 * consumed. The same in every JVM (tokens enter as big-endian ints, the scope as UTF-8 with its length), so that
 * processes sharing a store find each other's states.
 */
final class PrefixDigests {
    static final int BYTES = 32;

    private PrefixDigests() {}

    /** The digest of {@code tokens[0, length)} in {@code scope}. */
    static byte[] of(String scope, int[] tokens, int length) {
        return at(scope, tokens, new int[] {length})[0];
    }

    /** The digests of the prefixes of {@code tokens} of the given lengths (ascending), in one pass over the tokens. */
    static byte[][] at(String scope, int[] tokens, int[] ascendingLengths) {
        MessageDigest sha = start(scope);
        byte[][] out = new byte[ascendingLengths.length][];
        int fed = 0;
        byte[] word = new byte[4];
        for (int i = 0; i < ascendingLengths.length; i++) {
            int length = ascendingLengths[i];
            if (length < fed || length > tokens.length) {
                throw new IllegalArgumentException("prefix lengths must ascend within the tokens, got " + length);
            }
            for (; fed < length; fed++) {
                int t = tokens[fed];
                word[0] = (byte) (t >>> 24);
                word[1] = (byte) (t >>> 16);
                word[2] = (byte) (t >>> 8);
                word[3] = (byte) t;
                sha.update(word);
            }
            try {
                out[i] = ((MessageDigest) sha.clone()).digest();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("SHA-256 digest cannot be cloned", e);
            }
        }
        return out;
    }

    private static MessageDigest start(String scope) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] s = scope.getBytes(StandardCharsets.UTF_8);
            sha.update(new byte[] {
                (byte) (s.length >>> 24), (byte) (s.length >>> 16), (byte) (s.length >>> 8), (byte) s.length
            });
            sha.update(s);
            return sha;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }
}
