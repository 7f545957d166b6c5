package io.dijiang4j.attention.ops.hybrid;

import io.dijiang4j.attention.simd.VectorOps;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The online centroid memory of one KV head (docs/MATH.md §4): the evicted tokens clustered online into at most L
 * clusters, each kept as its count n_l, key sum and value sum (float64, so a long sequence does not drift), and read
 * as the centroid map reads its clusters (through float copies of tau c_l and of the value means, derived from the
 * sums: a query reads half the bytes):
 *
 * <pre>
 *   a_l = tau q . c_l + log n_l,      c_l = keySum_l / n_l
 *   num = sum_l exp(a_l + log g - c) valueSum_l / n_l,    den = sum_l exp(a_l + log g - c)
 * </pre>
 *
 * i.e. softmax over the evicted tokens with each token's key replaced by its cluster's centroid. Fold rule
 * (deterministic): the token opens a cluster of its own, appended to the list; when that makes L + 1 clusters, the
 * pair (a < b) of closest centroids ({@code |c_a - c_b|^2}; ties to the first pair in the order (0,1), (0,2), ...,
 * (1,2), ...) is merged into slot a and the last cluster moves into slot b. {@link NaiveHybridAttention} states the same from the definition (clusters as sets of positions).
 *
 * <p>Centroids and pairwise distances are derived from the sums (scratch, not serialized) and rebuilt after a restore or a
 * copy, so a restored state continues bit for bit. A fold costs O(L d) for the new costs plus a scan of each slot's
 * cheapest partner (O(L)), and recomputes only the rows a merge changed (the merged and moved slots, and those whose
 * cheapest partner they were): a few rows of O(L) where the full table scan was O(L^2).
 */
public final class OnlineCentroidMemory implements EvictedMemory {
    private final int capacity;
    private final int d;
    private final double scale;
    private int count;
    private final double[] counts; // [L + 1]: one slot more than the capacity, for the token before a merge
    private final double[] keySums; // [L + 1][d]
    private final double[] valueSums; // [L + 1][d]
    // derived from the sums
    private final double[] centroids; // [L + 1][d]
    private final float[] queryCentroids; // [L + 1][d], tau c_l in float: a query's scores are one SIMD dot each
    // [L + 1][d], valueSum_l / n_l in float: a query reads half the bytes of the sums, twice the lanes a vector
    private final float[] valueMeans;
    private final double[] logCounts; // [L + 1]
    private final double[] costs; // [L + 1][L + 1], merge cost of every pair, both triangles
    // per slot a, the cheapest pair (a, b) with b > a: its cost (+infinity if none) and b (-1 if none, ties to the
    // smallest b), so that finding the cheapest pair scans L rows instead of L^2 / 2 pairs
    private final double[] rowMin; // [L + 1]
    private final int[] rowArg; // [L + 1]
    private boolean derivedValid = true;
    // query scratch
    private final double[] logits; // [L]
    private final float[] readWeights; // [L]: w_l of every cluster in use
    private final float[] readSum; // [d]: sum over l of w_l valueMean_l
    private final double[] distances; // [L + 1]: one cluster's merge costs with every slot

    public OnlineCentroidMemory(int clusters, int headDim, double scale) {
        if (clusters < 1) throw new IllegalArgumentException("an online centroid memory needs clusters >= 1");
        this.capacity = clusters;
        this.d = headDim;
        this.scale = scale;
        int slots = clusters + 1;
        counts = new double[slots];
        keySums = new double[slots * d];
        valueSums = new double[slots * d];
        centroids = new double[slots * d];
        queryCentroids = new float[slots * d];
        valueMeans = new float[slots * d];
        logCounts = new double[slots];
        costs = new double[slots * slots];
        rowMin = new double[slots];
        rowArg = new int[slots];
        logits = new double[clusters];
        readWeights = new float[clusters];
        readSum = new float[headDim];
        distances = new double[slots];
    }

    /** Clusters in use. */
    public int count() {
        return count;
    }

    public int capacity() {
        return capacity;
    }

    /** How many tokens cluster l holds. */
    public double clusterSize(int l) {
        return counts[l];
    }

    @Override
    public void fold(float[] k, int kOff, float[] v, int vOff) {
        if (!derivedValid) rebuildDerived();
        int s = count++;
        counts[s] = 1;
        for (int i = 0; i < d; i++) {
            keySums[s * d + i] = k[kOff + i];
            valueSums[s * d + i] = v[vOff + i];
        }
        refreshSlot(s);
        // the new slot is the last: each earlier row gains one entry, the new row has none
        for (int a = 0; a < s; a++) offerRowMin(a, s);
        rowMin[s] = Double.POSITIVE_INFINITY;
        rowArg[s] = -1;
        if (count > capacity) mergeCheapestPair();
    }

    /**
     * Merges the cheapest pair: the first (a, b), a < b, in the order (0,1), (0,2), ..., (1,2), ... among those of
     * least cost (a strict minimum per row, then over the rows: the pair a scan of the whole table would find).
     */
    private void mergeCheapestPair() {
        int bestA = 0, bestB = 1;
        double best = Double.POSITIVE_INFINITY;
        for (int a = 0; a < count; a++) {
            if (rowMin[a] < best) {
                best = rowMin[a];
                bestA = a;
                bestB = rowArg[a];
            }
        }
        assert isFirstCheapestPair(bestA, bestB) : "row minima disagree with the cost table";
        counts[bestA] += counts[bestB];
        for (int i = 0; i < d; i++) {
            keySums[bestA * d + i] += keySums[bestB * d + i];
            valueSums[bestA * d + i] += valueSums[bestB * d + i];
        }
        int last = --count;
        if (bestB != last) moveSlot(last, bestB);
        counts[last] = 0;
        Arrays.fill(keySums, last * d, (last + 1) * d, 0);
        Arrays.fill(valueSums, last * d, (last + 1) * d, 0);
        refreshSlot(bestA);
        // rows whose cheapest partner changed or left (the merged slot, the slot the last cluster moved into, the
        // last slot), the merged and moved slots' own rows, and every row's entries in those two columns
        for (int a = 0; a < count; a++) {
            int arg = rowArg[a];
            if (a == bestA || a == bestB || arg == bestA || arg == bestB || arg == last) {
                refreshRowMin(a);
            } else {
                offerRowMin(a, bestA);
                if (bestB < count) offerRowMin(a, bestB);
            }
        }
    }

    /** Whether (a, b) is the pair a scan of the whole cost table picks (checked under -ea: the tests). */
    private boolean isFirstCheapestPair(int a, int b) {
        int slots = capacity + 1, scanA = 0, scanB = 1;
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            for (int j = i + 1; j < count; j++) {
                if (costs[i * slots + j] < best) {
                    best = costs[i * slots + j];
                    scanA = i;
                    scanB = j;
                }
            }
        }
        return scanA == a && scanB == b;
    }

    /** Row a's cheapest partner b > a, from the cost table. */
    private void refreshRowMin(int a) {
        int slots = capacity + 1, arg = -1;
        double min = Double.POSITIVE_INFINITY;
        for (int b = a + 1; b < count; b++) {
            double c = costs[a * slots + b];
            if (c < min) {
                min = c;
                arg = b;
            }
        }
        rowMin[a] = min;
        rowArg[a] = arg;
    }

    /** Row a's cheapest partner after entry (a, b) changed to a cost no other entry of the row depends on. */
    private void offerRowMin(int a, int b) {
        if (b <= a) return;
        double c = costs[a * (capacity + 1) + b];
        if (c < rowMin[a] || (c == rowMin[a] && rowArg[a] >= 0 && b < rowArg[a])) {
            rowMin[a] = c;
            rowArg[a] = b;
        }
    }

    /** Moves cluster {@code from} into slot {@code to}, with its derived centroid and costs. */
    private void moveSlot(int from, int to) {
        int slots = capacity + 1;
        counts[to] = counts[from];
        System.arraycopy(keySums, from * d, keySums, to * d, d);
        System.arraycopy(valueSums, from * d, valueSums, to * d, d);
        System.arraycopy(centroids, from * d, centroids, to * d, d);
        System.arraycopy(queryCentroids, from * d, queryCentroids, to * d, d);
        System.arraycopy(valueMeans, from * d, valueMeans, to * d, d);
        logCounts[to] = logCounts[from];
        for (int o = 0; o < count; o++) {
            double c = o == to ? 0 : costs[from * slots + o];
            costs[to * slots + o] = c;
            costs[o * slots + to] = c;
        }
    }

    /** Recomputes slot s's centroid and its merge cost with every other cluster in use. */
    private void refreshSlot(int s) {
        int slots = capacity + 1;
        refreshCentroid(s);
        VectorOps.squaredDistances(centroids, s * d, centroids, d, count, distances, d); // mergeCost(s, o) for every o
        for (int o = 0; o < count; o++) {
            double c = o == s ? 0 : distances[o];
            costs[s * slots + o] = c;
            costs[o * slots + s] = c;
        }
    }

    /**
     * |c_a - c_b|^2: the closest centroids merge whatever their sizes, so tokens unlike the others stay clusters of
     * their own (nearly exact). On stories260K this beat Ward's size-weighted cost (held-out KL 0.016 against 0.022)
     * and assigning each token to its nearest centroid once full (0.051).
     */
    private double mergeCost(int a, int b) {
        return VectorOps.squaredDistance(centroids, a * d, centroids, b * d, d);
    }

    private void refreshCentroid(int s) {
        double n = counts[s];
        for (int i = 0; i < d; i++) {
            double c = keySums[s * d + i] / n;
            centroids[s * d + i] = c;
            queryCentroids[s * d + i] = (float) (scale * c);
            valueMeans[s * d + i] = (float) (valueSums[s * d + i] / n);
        }
        logCounts[s] = Math.log(n);
    }

    private void rebuildDerived() {
        derivedValid = true;
        for (int s = 0; s < count; s++) refreshCentroid(s);
        int slots = capacity + 1;
        for (int a = 0; a < count; a++) {
            for (int b = 0; b < count; b++) costs[a * slots + b] = a == b ? 0 : mergeCost(a, b);
        }
        for (int a = 0; a < count; a++) refreshRowMin(a);
    }

    @Override
    public double loadQuery(float[] q, int qOff, double logGain) {
        if (count == 0) return Double.NEGATIVE_INFINITY;
        if (!derivedValid) rebuildDerived();
        double max = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < count; l++) {
            double a = VectorOps.dot(q, qOff, queryCentroids, l * d, d) + logCounts[l];
            logits[l] = a;
            max = Math.max(max, a);
        }
        return max + logGain;
    }

    @Override
    public double accumulate(double rowMax, double logGain, double[] num) {
        double den = 0, shift = logGain - rowMax;
        for (int l = 0; l < count; l++) {
            double w = Math.exp(logits[l] + shift); // <= 1: rowMax >= every a_l + log g
            readWeights[l] = (float) w;
            den += w;
        }
        Arrays.fill(readSum, 0f);
        VectorOps.addWeightedRows(readWeights, 0, valueMeans, 0, d, count, readSum, 0, d);
        for (int i = 0; i < d; i++) num[i] += readSum[i];
        return den;
    }

    public static long serializedBytes(int clusters, int headDim) {
        return 4 + 8L * clusters * (1 + 2L * headDim);
    }

    public void write(ByteBuffer out) {
        out.putInt(count);
        for (int l = 0; l < capacity; l++) out.putDouble(counts[l]);
        for (int i = 0; i < capacity * d; i++) out.putDouble(keySums[i]);
        for (int i = 0; i < capacity * d; i++) out.putDouble(valueSums[i]);
    }

    /** Reads what {@link #write} wrote; {@code kvHead} names the memory in the error of a corrupt count. */
    public void read(ByteBuffer in, int kvHead) {
        int n = in.getInt();
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException("corrupt attention state: online memory of KV head " + kvHead + " holds "
                    + n + " clusters, its size is " + capacity);
        }
        count = n;
        for (int l = 0; l < capacity; l++) counts[l] = in.getDouble();
        for (int i = 0; i < capacity * d; i++) keySums[i] = in.getDouble();
        for (int i = 0; i < capacity * d; i++) valueSums[i] = in.getDouble();
        for (int l = 0; l < count; l++) {
            if (!(counts[l] >= 1) || Double.isInfinite(counts[l])) {
                throw new IllegalArgumentException("corrupt attention state: online memory of KV head " + kvHead
                        + " has a cluster of size " + counts[l]);
            }
        }
        derivedValid = false;
    }

    public void copyFrom(OnlineCentroidMemory other) {
        count = other.count;
        System.arraycopy(other.counts, 0, counts, 0, counts.length);
        System.arraycopy(other.keySums, 0, keySums, 0, keySums.length);
        System.arraycopy(other.valueSums, 0, valueSums, 0, valueSums.length);
        derivedValid = false;
    }
}
