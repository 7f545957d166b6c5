package io.dijiang4j.attention.tensorops;

import com.github.tjake.jlama.math.VectorMath;
import com.github.tjake.jlama.tensor.AbstractTensor;
import io.dijiang4j.attention.jlama.JlamaInternals;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
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
 * <p>Only while the machine has cores to spare ({@link #forWeightRows}): under load, threads woken per product get
 * more of the machine than a caller that never sleeps. One region runs at a time; a region asked for while another runs (a second model in another thread) or from
 * inside a region runs on its calling thread alone, so nothing can deadlock.
 */
public final class ProductThreads {
    /** The body of a region: rows [start, start + length) of its row space. */
    @FunctionalInterface
    public interface Rows {
        void run(int start, int length);
    }

    /**
     * How long the caller spins for the last chunks of its region before parking: about one chunk of a decode
     * product. Under load a longer spin only takes time slices from other jobs (small decode at a load
     * average of 6-7 on 2 cores, tokens interleaved in one run: 14.1 ms a token against 12.1 with Jlama's pchunk when
     * spinning 200 us, 10.0 against 10.9 at 20 us).
     */
    private static final long SPIN_NANOS = 20_000;

    /**
     * How long an idle worker spins before parking. Between two products of a decode step the caller runs the
     * layer's attention and norms alone; a worker parked by then wakes up late for the next product and
     * the caller takes its chunks. Spinning through that gap: hybrid Q4 decode at 1k, alternating runs at a load
     * average of 1.7-2.5, small 412-454 -> 442-518 tok/s (300 us against 20 us), medium 61.3-70.8 -> 68.9-70.6. Only
     * on a machine with cores to spare ({@link #machineQuiet}); under load decode goes back to Jlama's pool and these
     * workers park after one spin.
     */
    private static final long WORKER_SPIN_NANOS = 300_000;

    /** Chunks per thread of one region: a late thread's share is taken by the others. */
    private static final int CHUNKS_PER_THREAD = 4;

    private static final ProductThreads SHARED =
            new ProductThreads(Runtime.getRuntime().availableProcessors());

    private final Worker[] workers;
    private final ReentrantLock running = new ReentrantLock();
    /**
     * Two regions used in turn (region e in slot e % 2), so that a call allocates nothing: a slot is rewritten two
     * regions after its last use, once no late worker is inside it ({@link Region#open}), or replaced by a new one
     * if a worker stays inside (its core taken away).
     */
    private final Region[] slots = {new Region(), new Region()}; // written by the lock's holder only
    /** The number of the latest region (0: none yet); workers watch it. Written by the lock's holder only. */
    private volatile long published;

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
        if (chunks == 1
                || workers.length == 0
                || Thread.currentThread() instanceof Worker
                || running.isHeldByCurrentThread() // inside a region of its own (the lock is reentrant)
                || !running.tryLock()) {
            body.run(offset, length);
            return;
        }
        try {
            long e = published + 1;
            int slot = (int) (e & 1);
            Region r = slots[slot];
            if (!r.open(e, body, offset, length, chunk, chunks, Thread.currentThread())) {
                // a worker preempted inside the slot (rare): leave the slot to it, closed, rather than wait for it
                r = new Region();
                r.open(e, body, offset, length, chunk, chunks, Thread.currentThread());
                slots[slot] = r; // published to the workers by the write of published below
            }
            published = e;
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
            r.work(e);
            r.awaitDone();
            if (r.failure != null) rethrow(r.failure);
        } finally {
            running.unlock();
        }
    }

    /**
     * Rows of a product of {@code weight} by {@code batch} rows of activations. A decode pass on the project's kernels
     * ({@link #decodePass}) runs on these threads while the machine has cores to spare ({@link #machineQuiet}), else
     * through Jlama's {@code VectorMath.pchunk}; every other product through {@code pchunk} as Jlama's own layers run
     * them (prefill keeps one GEMM chunk per core, each transposing the activations once; a model on {@code
     * tensor_ops: jlama} keeps Jlama's threading as well as its products).
     */
    public static void forWeightRows(AbstractTensor weight, int batch, int offset, int length, Rows body) {
        if (decodePass(weight, batch) && machineQuiet()) {
            SHARED.forRows(offset, length, body);
        } else {
            VectorMath.pchunk(offset, length, body::run);
        }
    }

    /**
     * Runs {@code body} over items [0, n) that share nothing (the sessions of a batched pass): on these threads while
     * the machine has cores to spare, else one after another on the caller (Jlama's {@code pchunk} drops items when
     * n % splits >= n / splits, docs/JLAMA.md §3).
     */
    public static void forIndependent(int n, Rows body) {
        if (n > 1 && machineQuiet()) SHARED.forRows(0, n, body);
        else body.run(0, n);
    }

    /**
     * Whether a product of {@code weight} by {@code batch} activation rows is a decode pass on the project's kernels:
     * the weight is routed to them ({@link TensorOpsRouter}) and the batch takes their matrix-vector path.
     */
    public static boolean decodePass(AbstractTensor weight, int batch) {
        return batch < CpuMatrixProducts.MATVEC_ROWS
                && JlamaInternals.tensorOperations() instanceof TensorOpsRouter r
                && r.routeOf(weight) != null;
    }

    /**
     * Load average per core above which decode passes go back to Jlama's pool. On a machine shared with other jobs a
     * thread that never sleeps is scheduled behind the others, while threads woken for each product are run at once:
     * medium Q4 decode at a load average of 7-11 on 2 cores, tokens interleaved in one run, took 45.5 / 60.9 / 48.3
     * ms a token on these threads (three settings of spin and chunks) against 43.6 / 50.7 / 40.6 with {@code pchunk}.
     * Below it, the hand-offs are what these threads save (decode kept 1.1 of 2 cores busy on a nearly idle machine).
     * System property {@code dijiang.decode.busy_load_per_core}: 0 never uses these threads, a large value always.
     */
    private static final double BUSY_LOAD_PER_CORE =
            Double.parseDouble(System.getProperty("dijiang.decode.busy_load_per_core", "1.5"));

    private static final OperatingSystemMXBean OS = ManagementFactory.getOperatingSystemMXBean();
    private static volatile long loadReadAt = System.nanoTime() - 2_000_000_000L;
    private static volatile boolean quiet = true;

    /** Whether the one-minute load average (read at most once a second) leaves cores to spare. */
    static boolean machineQuiet() {
        long now = System.nanoTime();
        if (now - loadReadAt > 1_000_000_000L) {
            loadReadAt = now;
            double load = OS.getSystemLoadAverage();
            quiet = load < 0 || load <= BUSY_LOAD_PER_CORE * SHARED.threads();
        }
        return quiet;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
        throw new IllegalStateException(t);
    }

    /**
     * One slot of parallel regions. Its fields are written by the caller that opens it, while it is closed to the
     * workers, and read by a thread only from inside it: a worker enters ({@link #inside}), then checks that the slot
     * still holds the region it was told about; the caller closes the slot, then waits for no one to be inside before
     * rewriting it, or gives it up (both sides volatile: one of them sees the other), so a worker that wakes after its region ended
     * finds a closed slot, another region, or no chunk left, never half-written fields.
     */
    private static final class Region {
        private static final long CLOSED = -1;
        private static final long OPEN_SPIN_NANOS = 20_000;
        private volatile long epoch = CLOSED;
        private final AtomicInteger inside = new AtomicInteger();
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger done = new AtomicInteger();
        private Rows body;
        private int offset, length, chunk, chunks;
        private Thread caller;
        volatile boolean callerParked;
        volatile Throwable failure;

        /**
         * Makes this slot region {@code e} (by the lock's holder, before publishing e); false, leaving it closed, when
         * a late worker of region e - 2 is still inside after {@link #OPEN_SPIN_NANOS} (it leaves at once unless its
         * core was taken from it, which can last milliseconds on a shared machine).
         */
        boolean open(long e, Rows body, int offset, int length, int chunk, int chunks, Thread caller) {
            epoch = CLOSED;
            long until = System.nanoTime() + OPEN_SPIN_NANOS;
            while (inside.get() != 0) {
                if (System.nanoTime() > until) return false;
                Thread.onSpinWait();
            }
            this.body = body;
            this.offset = offset;
            this.length = length;
            this.chunk = chunk;
            this.chunks = chunks;
            this.caller = caller;
            next.set(0);
            done.set(0);
            callerParked = false;
            failure = null;
            epoch = e;
            return true;
        }

        /** Takes chunks of region e until none is left (none if this slot no longer holds e). */
        void work(long e) {
            inside.incrementAndGet();
            try {
                if (epoch != e) return;
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
            } finally {
                inside.decrementAndGet();
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
            long seen = 0;
            while (true) {
                long e = awaitNext(seen);
                seen = e;
                pool.slots[(int) (e & 1)].work(e);
            }
        }

        private long awaitNext(long seen) {
            long spinUntil = System.nanoTime() + WORKER_SPIN_NANOS;
            while (true) {
                long e = pool.published;
                if (e != seen) return e;
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                // checked again after announcing the park: a region published in between unparks this thread or
                // is seen here
                if (pool.published == seen) LockSupport.park(pool);
                parked = false;
                spinUntil = System.nanoTime() + WORKER_SPIN_NANOS;
            }
        }
    }
}
