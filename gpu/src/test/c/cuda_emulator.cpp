// Runs the project's CUDA kernels (src/main/cuda/*.cu, compiled unchanged as C++) on the CPU, so that the tests
// can check their arithmetic without a GPU. Every thread of a block is a fiber (ucontext) on one OS thread, so
// __syncthreads and warp shuffles are real barriers between the block's threads: a thread that reaches one waits
// (yields) until every participant has arrived. Blocks run one after another and share one dynamic shared memory
// buffer. A missing barrier or a wrong index shows up as a wrong result, though not every interleaving a GPU can
// produce is tried (fibers switch only at barriers).
#include <setjmp.h>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__

extern "C" {
alignas(16) float smem[232448 / sizeof(float)];
}

namespace emu {
constexpr size_t STACK_BYTES = 256 * 1024;
// A fiber starts through makecontext/swapcontext; after that switches use _setjmp/_longjmp, which do not make a
// signal-mask system call per switch as swapcontext does (10x faster here).
ucontext_t scheduler;
jmp_buf scheduler_jump;
struct Jump {
    jmp_buf buf;
};
std::vector<Jump> fiber_jumps;
std::vector<bool> started;
std::vector<ucontext_t> fibers;
std::vector<char> stacks;
std::vector<bool> finished;
unsigned current;
std::function<void()> body;

struct Barrier {
    unsigned participants = 0, arrived = 0;
    unsigned long generation = 0;
};
Barrier block_barrier;
Barrier warp_barriers[32];
float warp_exchange[32][32];

inline void yield() {
    if (!_setjmp(fiber_jumps[current].buf)) _longjmp(scheduler_jump, 1);
}

inline void wait(Barrier& b) {
    unsigned long generation = b.generation;
    if (++b.arrived == b.participants) {
        b.arrived = 0;
        b.generation++;
        return;
    }
    while (b.generation == generation) yield();
}

void entry() {
    body();
    finished[current] = true;
    _longjmp(scheduler_jump, 1); // never return: uc_link would resume a stale scheduler frame
}
} // namespace emu

inline void __syncthreads() { emu::wait(emu::block_barrier); }

inline float __shfl_xor_sync(unsigned mask, float x, int offset) {
    (void)mask;
    unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    emu::warp_exchange[warp][lane] = x;
    emu::wait(emu::warp_barriers[warp]);
    float y = emu::warp_exchange[warp][lane ^ offset];
    emu::wait(emu::warp_barriers[warp]);
    return y;
}

template <class T>
inline T min(T a, T b) {
    return a < b ? a : b;
}

#include "../../main/cuda/features.cu"
#include "../../main/cuda/hybrid.cu"
#include "../../main/cuda/memory.cu"

template <class... A, std::size_t... I>
static void call_with(void (*f)(A...), void** params, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(params[I])...);
}

template <class... A>
static void run_grid(void (*f)(A...), dim3 grid, dim3 block, void** params) {
    using namespace emu;
    gridDim = grid;
    blockDim = block;
    unsigned threads = block.x;
    fibers.assign(threads, ucontext_t{});
    fiber_jumps.resize(threads);
    stacks.resize(threads * STACK_BYTES);
    block_barrier.participants = threads;
    for (unsigned w = 0; w < (threads + 31) / 32; w++) {
        warp_barriers[w].participants = threads - 32 * w < 32 ? threads - 32 * w : 32;
    }
    body = [&] { call_with(f, params, std::index_sequence_for<A...>{}); };
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                blockIdx = dim3{bx, by, bz};
                finished.assign(threads, false);
                started.assign(threads, false);
                for (unsigned t = 0; t < threads; t++) {
                    getcontext(&fibers[t]);
                    fibers[t].uc_stack.ss_sp = stacks.data() + t * STACK_BYTES;
                    fibers[t].uc_stack.ss_size = STACK_BYTES;
                    fibers[t].uc_link = nullptr;
                    makecontext(&fibers[t], entry, 0);
                }
                unsigned remaining = threads;
                unsigned long rounds = 0;
                while (remaining > 0) {
                    for (unsigned t = 0; t < threads; t++) {
                        if (finished[t]) continue;
                        current = t;
                        threadIdx = dim3{t, 0, 0};
                        if (!_setjmp(scheduler_jump)) {
                            if (!started[t]) {
                                started[t] = true;
                                swapcontext(&scheduler, &fibers[t]);
                            } else {
                                _longjmp(fiber_jumps[t].buf, 1);
                            }
                        }
                        if (finished[t]) remaining--;
                    }
                    if (++rounds > 100000000UL) {
                        std::fprintf(stderr, "cuda emulator: block (%u,%u,%u) deadlocked at a barrier\n", bx, by, bz);
                        std::abort();
                    }
                }
            }
}

// Called by the fake cuLaunchKernel; returns 0, or 500 (CUDA_ERROR_NOT_FOUND) for an unknown kernel.
extern "C" int fake_emulate_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                   unsigned shared, void** params) {
    if (shared > sizeof smem) return 1;
    dim3 grid{gx, gy, gz}, block{bx, 1, 1};
    std::string n(name);
    if (n == "dj_log_features") run_grid(dj_log_features, grid, block, params);
    else if (n == "dj_memory_chunk") run_grid(dj_memory_chunk, grid, block, params);
    else if (n == "dj_memory_step") run_grid(dj_memory_step, grid, block, params);
    else if (n == "dj_hybrid_window") run_grid(dj_hybrid_window, grid, block, params);
    else return 500;
    return 0;
}
