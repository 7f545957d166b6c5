package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.math.VectorMath;
import com.github.tjake.jlama.tensor.AbstractTensor;
import io.dijiang4j.attention.jlama.JlamaInternals;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The threads that run the output rows of the project's matrix products (docs/DESIGN.md §4): the calling thread
 * takes part, and one resident worker per other core waits for the next parallel region by spinning briefly, then
 * parking. Jlama's {@code VectorMath.pchunk} hands every product to its ForkJoinPool and parks the caller: a decode
 * step is about forty such hand-offs (five per layer and the logits), each a wake-up of two pool threads and of the
 * caller, and on two cores decode ran at 1.1 cores busy. Here a region is cut into a few chunks more than there are
 * threads and every thread takes chunks from one counter, so a thread that is late (parked, or preempted by another
 * process) costs only its own chunks; the caller waits for the chunks, never for a worker to wake up.
 *
 * <p>One region runs at a time; a region asked for while another runs (a second model in another thread) or from
 * inside a region runs on its calling thread alone, so nothing can deadlock.
 */
public final class ProductThreads {
    /** The body of a region: rows [start, start + length) of its row space. */
    @FunctionalInterface
    public interface Rows {
        void run(int start, int length);
    }

    /**
     * How long an idle worker spins for the next region before parking: about the gaps between the products of one
     * layer (norm, RoPE, a short attention step), short enough that a worker gives its core back during a long
     * attention step and between tokens; on a machine shared with other jobs a spinning thread only takes their
     * time slices (200 us of spinning was no faster at a load average of 6 on 2 cores).
     */
    private static final long SPIN_NANOS = 50_000;

    /** Chunks per thread of one region: a late thread's share is taken by the others. */
    private static final int CHUNKS_PER_THREAD = 4;

    private static final ProductThreads SHARED =
            new ProductThreads(Runtime.getRuntime().availableProcessors());

    private final Worker[] workers;
    private final ReentrantLock running = new ReentrantLock();
    private volatile Region region;

    /** Threads of {@code threads} in all, the caller included ({@code threads - 1} workers). */
    ProductThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1: " + threads);
        workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(this, i);
            workers[i].start();
        }
    }

    /** The process's product threads, one per core. */
    public static ProductThreads shared() {
        return SHARED;
    }

    /** Threads that run a region, the caller included. */
    public int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code body} over rows [offset, offset + length) on every core, in a few chunks per thread, and returns
     * when every row has run. An exception of any chunk is thrown here once the region has ended.
     */
    public void forRows(int offset, int length, Rows body) {
        if (length <= 0) return;
        int chunk = ceilDiv(length, threads() * CHUNKS_PER_THREAD);
        int chunks = ceilDiv(length, chunk);
        if (chunks == 1 || workers.length == 0 || Thread.currentThread() instanceof Worker || !running.tryLock()) {
            body.run(offset, length);
            return;
        }
        try {
            Region r = new Region(body, offset, length, chunk, chunks, Thread.currentThread());
            region = r;
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
            r.work();
            r.awaitDone();
            if (r.failure != null) rethrow(r.failure);
        } finally {
            running.unlock();
        }
    }

    /**
     * Rows of a product of {@code weight} by {@code batch} rows of activations: on these threads when the product is
     * a decode pass on the project's kernels ({@link #decodePass}), else through Jlama's {@code VectorMath.pchunk}
     * as Jlama's own layers run them (so prefill keeps one chunk of the GEMM per core, each transposing the
     * activations once, and a model on {@code tensor_ops: jlama} keeps Jlama's threading as well as its products).
     */
    public static void forWeightRows(AbstractTensor weight, int batch, int offset, int length, Rows body) {
        if (decodePass(weight, batch)) {
            SHARED.forRows(offset, length, body);
        } else {
            VectorMath.pchunk(offset, length, body::run);
        }
    }

    /**
     * Whether a product of {@code weight} by {@code batch} activation rows runs on these threads: the weight is routed
     * to the project's products ({@link TensorOpsRouter}) and the batch takes their matrix-vector path (decode).
     */
    public static boolean decodePass(AbstractTensor weight, int batch) {
        return batch < CpuMatrixProducts.MATVEC_ROWS
                && JlamaInternals.tensorOperations() instanceof TensorOpsRouter r
                && r.routeOf(weight) != null;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
        throw new IllegalStateException(t);
    }

    /** One parallel region: immutable but for its counters, so a worker that wakes after it ended finds no chunk. */
    private static final class Region {
        final Rows body;
        final int offset, length, chunk, chunks;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile boolean callerParked;
        volatile Throwable failure;

        Region(Rows body, int offset, int length, int chunk, int chunks, Thread caller) {
            this.body = body;
            this.offset = offset;
            this.length = length;
            this.chunk = chunk;
            this.chunks = chunks;
            this.caller = caller;
        }

        /** Takes chunks until none is left. */
        void work() {
            for (int i; (i = next.getAndIncrement()) < chunks; ) {
                try {
                    if (failure == null) {
                        int start = i * chunk;
                        body.run(offset + start, Math.min(chunk, length - start));
                    }
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (done.incrementAndGet() == chunks && callerParked) LockSupport.unpark(caller);
                }
            }
        }

        void awaitDone() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (done.get() < chunks) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    callerParked = true;
                    if (done.get() < chunks) LockSupport.park(this);
                }
            }
        }
    }

    private static final class Worker extends Thread {
        private final ProductThreads pool;
        volatile boolean parked;

        Worker(ProductThreads pool, int index) {
            super("dijiang4j-products-" + (index + 1));
            this.pool = pool;
            setDaemon(true);
        }

        @Override
        public void run() {
            Region seen = null;
            while (true) {
                Region r = awaitNext(seen);
                seen = r;
                r.work();
            }
        }

        private Region awaitNext(Region seen) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (true) {
                Region r = pool.region;
                if (r != seen) return r;
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                // checked again after announcing the park: a region published in between unparks this thread or
                // is seen here
                if (pool.region == seen) LockSupport.park(pool);
                parked = false;
                spinUntil = System.nanoTime() + SPIN_NANOS;
            }
        }
    }
}
