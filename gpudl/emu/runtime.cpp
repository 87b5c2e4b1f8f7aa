// runtime.cpp — runs one kernel launch on the CPU: blocks one after another; inside a block
// every CUDA thread is a cooperative fiber with its own stack. A fiber runs until it reaches
// __syncthreads(), a *_sync warp intrinsic, or its end; then the scheduler resumes the next
// ready fiber in thread order (forward or reverse). A barrier opens when every thread of the
// block has arrived; a warp intrinsic completes when every live lane of its mask has arrived.
// When no fiber can move, the launch stops with a message naming the waiting threads.
// Fast path: each block starts in serial mode, where one fiber runs the threads one after
// another by plain calls; the first thread that blocks keeps that fiber as its own and the
// threads not yet started get fibers of their own. A barrier-free kernel never switches.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fiber.h"
#include "runtime_api.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
alignas(16) unsigned char gpudl_emu_dynamic_shared[GPUDL_EMU_MAX_DYNAMIC_SHARED];

#if defined(__ELF__)
// The linker defines these around the section that holds every static __shared__ variable.
extern "C" __attribute__((weak, visibility("hidden"))) unsigned char __start_gpudl_shared[];
extern "C" __attribute__((weak, visibility("hidden"))) unsigned char __stop_gpudl_shared[];
#endif

namespace {

constexpr unsigned kMaxThreads = 1024;
constexpr size_t kStackSize = 256 * 1024;  // per CUDA thread; pages are only committed when touched
constexpr size_t kGuardSize = 64 * 1024;    // PROT_NONE below each stack: an overflow faults
constexpr unsigned long long kPoison = ~0ull;

enum State : unsigned char { READY, AT_BARRIER, AT_WARP, EXITED };

struct Thread {
  FiberContext context;
  uint3 idx;
  unsigned linear;
  State state;
  bool started;
  int stack;
  int op;  // the pending warp intrinsic, its mask, value, source lane and result
  unsigned mask;
  unsigned long long value;
  int source;
  unsigned long long result;
  void* fake_stack;
};

// Fiber stacks: one reserved region of kMaxThreads slots, committed on first use, reused LIFO
// so that a barrier-free kernel runs every thread on the same (cache-hot) stack.
struct StackPool {
  char* base = nullptr;
  unsigned committed = 0;
  std::vector<int> free;

  static size_t slot() { return kGuardSize + kStackSize; }
  char* bottom(int s) const { return base + s * slot() + kGuardSize; }

  bool reserve() {
    if (base) return true;
    void* p = mmap(nullptr, kMaxThreads * slot(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    base = static_cast<char*>(p);
    return true;
  }
  int acquire() {
    if (!free.empty()) {
      int s = free.back();
      free.pop_back();
      return s;
    }
    if (committed == kMaxThreads || mprotect(bottom(committed), kStackSize, PROT_READ | PROT_WRITE) != 0) return -1;
    return int(committed++);
  }
  void release(int s) { free.push_back(s); }
  bool in_guard(const void* addr) const {
    uintptr_t a = (uintptr_t)addr, b = (uintptr_t)base;
    return base && a >= b && a < b + kMaxThreads * slot() && (a - b) % slot() < kGuardSize;
  }
};

struct Launch {
  const char* kernel = nullptr;
  void (*body)(void*) = nullptr;
  void* closure = nullptr;
  bool reverse = false;
  std::vector<Thread> threads;
  unsigned n = 0, live = 0;
  unsigned at_barrier = 0, barrier_true = 0, barrier_result = 0;
  unsigned present[kMaxThreads / 32], exited[kMaxThreads / 32];
  Thread* current = nullptr;
  bool serial = false;  // the current fiber runs the block's threads one after another
  unsigned serial_next = 0;
  FiberContext main;
  void* main_fake_stack = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
  bool failed = false;
  std::string error;
};

Launch L;
StackPool stacks;

// ---- AddressSanitizer: tell it about every stack switch, and where a report happened ----
#if defined(__SANITIZE_ADDRESS__)
void asan_start_switch(void** fake, const void* bottom, size_t size) { __sanitizer_start_switch_fiber(fake, bottom, size); }
void asan_finish_switch(void* fake, const void** bottom, size_t* size) { __sanitizer_finish_switch_fiber(fake, bottom, size); }
void asan_unpoison(const void* p, size_t n) { __asan_unpoison_memory_region(p, n); }
void asan_poison(const void* p, size_t n) { __asan_poison_memory_region(p, n); }
#else
void asan_start_switch(void**, const void*, size_t) {}
void asan_finish_switch(void*, const void**, size_t*) {}
void asan_unpoison(const void*, size_t) {}
void asan_poison(const void*, size_t) {}
#endif

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

// Where the running CUDA thread is; writes into a caller's buffer, so signal handlers can use it.
const char* where(char* buf, size_t size) {
  snprintf(buf, size, "kernel '%s', blockIdx (%u,%u,%u), threadIdx (%u,%u,%u)", L.kernel ? L.kernel : "?",
           blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
  return buf;
}

std::string where() {
  char buf[256];
  return where(buf, sizeof buf);
}

// ---- switching between the scheduler (main) and the fibers ----
void resume(Thread* t) {
  L.current = t;
  threadIdx = t->idx;
  asan_start_switch(&L.main_fake_stack, stacks.bottom(t->stack), kStackSize);
  fiber_swap(&L.main, &t->context);
  asan_finish_switch(L.main_fake_stack, nullptr, nullptr);
}

void yield_to_main(bool exiting) {
  Thread* t = L.current;
  if (!exiting) L.serial = false;
  asan_start_switch(exiting ? nullptr : &t->fake_stack, L.main_bottom, L.main_size);
  fiber_swap(&t->context, &L.main);
  asan_finish_switch(t->fake_stack, &L.main_bottom, &L.main_size);
}

[[noreturn]] void fail(const std::string& what) {
  L.failed = true;
  L.error = what;
  yield_to_main(true);
  __builtin_unreachable();
}

// ---- warp rendezvous ----
enum Kind { SYNC, SHUFFLE, VOTE };
Kind kind(int op) { return op == GPUDL_EMU_SYNCWARP ? SYNC : op >= GPUDL_EMU_BALLOT ? VOTE : SHUFFLE; }

const char* op_name(int op) {
  static const char* names[] = {"__syncwarp",    "__shfl_sync",   "__shfl_up_sync", "__shfl_down_sync",
                                "__shfl_xor_sync", "__ballot_sync", "__any_sync",     "__all_sync"};
  return names[op];
}

Thread& lane_thread(unsigned warp, unsigned lane) { return L.threads[warp * 32 + lane]; }
unsigned live_lanes(unsigned warp) { return L.present[warp] & ~L.exited[warp]; }

// Completes the rendezvous of `lane`'s mask if every live lane in it has arrived; returns an
// error message when lanes of that mask wait with a different mask or a different intrinsic.
std::string try_complete(unsigned warp, unsigned lane) {
  const Thread& t = lane_thread(warp, lane);
  unsigned live = live_lanes(warp), group = t.mask & live;
  for (unsigned l = 0; l < 32; ++l)
    if ((group >> l & 1) && lane_thread(warp, l).state != AT_WARP) return "";
  unsigned ballot = 0;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(group >> l & 1)) continue;
    const Thread& u = lane_thread(warp, l);
    if ((u.mask & live) != group || kind(u.op) != kind(t.op))
      return format("warp %u: lane %u waits at %s(mask 0x%08x) while lane %u waits at %s(mask 0x%08x)", warp, lane,
                    op_name(t.op), t.mask, l, op_name(u.op), u.mask);
    ballot |= unsigned(u.value != 0) << l;
  }
  for (unsigned l = 0; l < 32; ++l) {
    if (!(group >> l & 1)) continue;
    Thread& u = lane_thread(warp, l);
    if (kind(u.op) == SHUFFLE)
      u.result = (group >> u.source & 1) ? lane_thread(warp, u.source).value : kPoison;
    else
      u.result = u.op == GPUDL_EMU_BALLOT ? ballot : u.op == GPUDL_EMU_ANY ? ballot != 0 : ballot == group;
    u.state = READY;
  }
  return "";
}

// The lane a shuffle reads, within segments of `width` lanes (CUDA's rules: out-of-range
// up/down/xor sources return the caller's own value; idx wraps modulo width).
int source_lane(int op, unsigned lane, int arg, unsigned width) {
  unsigned seg = lane & ~(width - 1), pos = lane - seg, a = unsigned(arg);
  switch (op) {
    case GPUDL_EMU_SHFL_IDX: return int(seg + (a & (width - 1)));
    case GPUDL_EMU_SHFL_UP: return pos >= a ? int(lane - a) : int(lane);
    case GPUDL_EMU_SHFL_DOWN: return a < width - pos ? int(lane + a) : int(lane);
    default: return (lane ^ a) < seg + width ? int(lane ^ a) : int(lane);
  }
}

// ---- thread exit, the fiber entry points ----
void mark_exited(Thread* t) {
  t->state = EXITED;
  --L.live;
  L.exited[t->linear / 32] |= 1u << (t->linear % 32);
}

// An exited lane leaves every warp rendezvous, which may complete the ones waiting for it.
[[noreturn]] void thread_exit() {
  Thread* t = L.current;
  unsigned warp = t->linear / 32;
  mark_exited(t);
  for (unsigned l = 0; l < 32; ++l) {
    if (!(L.present[warp] >> l & 1) || lane_thread(warp, l).state != AT_WARP) continue;
    std::string err = try_complete(warp, l);
    if (!err.empty()) fail(where() + ": " + err);
  }
  yield_to_main(true);
  __builtin_unreachable();
}

unsigned ordered(unsigned k) { return L.reverse ? L.n - 1 - k : k; }

void fiber_entry() {
  asan_finish_switch(nullptr, &L.main_bottom, &L.main_size);
  L.body(L.closure);
  thread_exit();
}

// The serial-mode fiber: runs thread after thread on one stack until one of them blocks
// (then it finishes as that thread's fiber) or none is left.
void serial_entry() {
  asan_finish_switch(nullptr, &L.main_bottom, &L.main_size);
  for (;;) {
    Thread* t = L.current;
    L.body(L.closure);
    if (!L.serial || L.serial_next == L.n) thread_exit();
    mark_exited(t);  // nobody waits in serial mode, so no rendezvous can complete
    Thread* next = &L.threads[ordered(L.serial_next++)];
    next->started = true;
    next->stack = t->stack;
    t->stack = -1;
    L.current = next;
    threadIdx = next->idx;
  }
}

// ---- messages for a block that cannot move ----
std::string thread_list(State state, int op) {
  std::string out;
  unsigned count = 0, ranges = 0, i = 0;
  while (i < L.n) {
    auto match = [&](unsigned k) { return L.threads[k].state == state && (op < 0 || L.threads[k].op == op); };
    if (!match(i)) {
      ++i;
      continue;
    }
    unsigned j = i;
    while (j + 1 < L.n && match(j + 1)) ++j;
    count += j - i + 1;
    if (++ranges <= 6) {
      const uint3 &a = L.threads[i].idx, &b = L.threads[j].idx;
      out += format("%s(%u,%u,%u)", ranges > 1 ? ", " : "", a.x, a.y, a.z);
      if (j > i) out += format("-(%u,%u,%u)", b.x, b.y, b.z);
    }
    i = j + 1;
  }
  if (ranges > 6) out += ", ...";
  return count ? format("%u thread(s) ", count) + "[" + out + "]" : "";
}

std::string stall_message() {
  std::string block = format("kernel '%s', blockIdx (%u,%u,%u): ", L.kernel, blockIdx.x, blockIdx.y, blockIdx.z);
  std::string waiting = thread_list(AT_BARRIER, -1), exited = thread_list(EXITED, -1);
  std::string warp;
  for (int op = GPUDL_EMU_SYNCWARP; op <= GPUDL_EMU_ALL; ++op) {
    std::string at = thread_list(AT_WARP, op);
    if (!at.empty()) warp += std::string(warp.empty() ? "" : "; ") + at + " wait at " + op_name(op);
  }
  if (warp.empty())
    return block + "divergent __syncthreads(): " + waiting + " wait at the barrier but " + exited +
           " exited without reaching it (every thread of a block must reach each __syncthreads())";
  return block + "deadlock: " + (waiting.empty() ? "" : waiting + " wait at __syncthreads(); ") + warp +
         (exited.empty() ? "" : "; " + exited + " exited") +
         " (a barrier needs every thread of the block, a *_sync intrinsic every live lane of its mask)";
}

// ---- shared memory: 0xFF before each block, so unwritten floats read as NaN ----
// Under ASan byte by byte and uninstrumented, because the range also covers the redzones.
__attribute__((no_sanitize_address)) void fill_poison(unsigned char* p, size_t n) {
#if defined(__SANITIZE_ADDRESS__)
  volatile unsigned char* v = p;
  for (size_t i = 0; i < n; ++i) v[i] = 0xFF;
#else
  memset(p, 0xFF, n);
#endif
}

void poison_shared(size_t dynamic) {
#if defined(__ELF__)
  if (__start_gpudl_shared) fill_poison(__start_gpudl_shared, size_t(__stop_gpudl_shared - __start_gpudl_shared));
#endif
  memset(gpudl_emu_dynamic_shared, 0xFF, dynamic);
}

// ---- one block ----
void release_stacks() {
  for (Thread& t : L.threads) {
    if (t.stack < 0) continue;
    asan_unpoison(stacks.bottom(t.stack), kStackSize);
    stacks.release(t.stack);
    t.stack = -1;
  }
}

bool start(Thread& t) {
  t.stack = stacks.acquire();
  if (t.stack < 0) {
    L.error = format("kernel '%s': cannot allocate a %zu KiB fiber stack", L.kernel, kStackSize / 1024);
    return false;
  }
  asan_unpoison(stacks.bottom(t.stack), kStackSize);
  fiber_make(&t.context, stacks.bottom(t.stack), kStackSize, L.serial ? serial_entry : fiber_entry);
  t.started = true;
  return true;
}

bool run_block() {
  for (Thread& t : L.threads) t.state = READY, t.started = false, t.stack = -1;
  for (unsigned w = 0; w < (L.n + 31) / 32; ++w) L.exited[w] = 0;
  L.live = L.n;
  L.at_barrier = L.barrier_true = 0;
  L.serial = true, L.serial_next = 1;  // the serial fiber starts with the first thread in order
  while (L.live) {
    bool progressed = false;
    for (unsigned k = 0; k < L.n; ++k) {
      Thread& t = L.threads[ordered(k)];
      if (t.state != READY) continue;
      progressed = true;
      if (!t.started && !start(t)) return false;
      resume(&t);
      if (L.failed) return false;
      Thread* last = L.current;  // differs from t when a serial fiber ran several threads
      if (last->state == EXITED && last->stack >= 0) stacks.release(last->stack), last->stack = -1;
    }
    if (!progressed) {
      L.error = stall_message();
      return false;
    }
  }
  return true;
}

// ---- crash report outside ASan: name the kernel, block and thread, then crash as before ----
#if !defined(__SANITIZE_ADDRESS__)
struct sigaction previous_segv, previous_bus;
stack_t previous_altstack;
alignas(16) char altstack[64 * 1024];

// Allocates nothing: the fault may have happened inside malloc.
void on_fault(int sig, siginfo_t* info, void*) {
  char msg[768], loc[256];
  int len = snprintf(msg, sizeof msg, "gpudl.emu: %s in %s%s\n", sig == SIGSEGV ? "segmentation fault" : "bus error",
                     where(loc, sizeof loc),
                     stacks.in_guard(info->si_addr)
                         ? ": fiber stack overflow (256 KiB per CUDA thread; use fewer or smaller local arrays)"
                         : ": an out-of-bounds access? rerun with GPUDL_EMU_ASAN=1 for the exact line");
  if (write(STDERR_FILENO, msg, size_t(len)) < 0) len = 0;
  sigaction(sig, sig == SIGSEGV ? &previous_segv : &previous_bus, nullptr);
}

void install_fault_report() {
  stack_t alt{};
  alt.ss_sp = altstack;
  alt.ss_size = sizeof altstack;
  sigaltstack(&alt, &previous_altstack);
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
  sigaction(SIGBUS, &sa, &previous_bus);
}

void remove_fault_report() {
  sigaction(SIGSEGV, &previous_segv, nullptr);
  sigaction(SIGBUS, &previous_bus, nullptr);
  sigaltstack(&previous_altstack, nullptr);
}
#else
void report_location(const char*) {
  char loc[256];
  if (L.kernel) fprintf(stderr, "gpudl.emu: the error above happened in %s\n", where(loc, sizeof loc));
}

void install_fault_report() { __asan_set_error_report_callback(report_location); }
void remove_fault_report() {}
#endif

std::string check_config(const unsigned* grid, const unsigned* block, size_t shared_mem) {
  unsigned long long threads = 1ull * block[0] * block[1] * block[2];
  if (threads == 0 || threads > kMaxThreads || block[2] > 64)
    return format("block (%u,%u,%u) is not a valid block: at most 1024 threads, z at most 64", block[0], block[1],
                  block[2]);
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0 || grid[1] > 65535 || grid[2] > 65535)
    return format("grid (%u,%u,%u) is not a valid grid", grid[0], grid[1], grid[2]);
  if (shared_mem > GPUDL_EMU_MAX_DYNAMIC_SHARED)
    return format("shared_mem=%zu exceeds %d bytes", shared_mem, GPUDL_EMU_MAX_DYNAMIC_SHARED);
  if (!stacks.reserve()) return "cannot reserve address space for the fiber stacks";
  return "";
}

void setup_threads(const unsigned* block) {
  L.n = block[0] * block[1] * block[2];
  L.threads.assign(L.n, Thread{});
  for (unsigned i = 0; i < L.n; ++i) {
    Thread& t = L.threads[i];
    t.linear = i;
    t.idx = uint3{i % block[0], i / block[0] % block[1], i / (block[0] * block[1])};
    t.stack = -1;
  }
  for (unsigned w = 0; w < (L.n + 31) / 32; ++w) {
    unsigned lanes = L.n - w * 32;
    L.present[w] = lanes >= 32 ? ~0u : (1u << lanes) - 1;
  }
}

}  // namespace

extern "C" int gpudl_emu_syncthreads(int op, int predicate) {
  Thread* t = L.current;
  t->state = AT_BARRIER;
  L.barrier_true += predicate != 0;
  if (++L.at_barrier == L.n) {
    for (Thread& u : L.threads)
      if (u.state == AT_BARRIER) u.state = READY;
    L.barrier_result = L.barrier_true;
    L.at_barrier = L.barrier_true = 0;
  }
  yield_to_main(false);
  switch (op) {
    case GPUDL_EMU_BAR_COUNT: return int(L.barrier_result);
    case GPUDL_EMU_BAR_AND: return L.barrier_result == L.n;
    case GPUDL_EMU_BAR_OR: return L.barrier_result != 0;
    default: return 0;
  }
}

extern "C" unsigned long long gpudl_emu_warp(int op, unsigned mask, unsigned long long value, int arg, int width) {
  Thread* t = L.current;
  unsigned lane = t->linear % 32, warp = t->linear / 32;
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail(where() + format(": %s width %d is not a power of 2 in [1, 32]", op_name(op), width));
  if (!(mask >> lane & 1))
    fail(where() + format(": %s(mask 0x%08x) does not include the calling lane %u", op_name(op), mask, lane));
  t->op = op;
  t->mask = mask;
  t->value = value;
  t->source = kind(op) == SHUFFLE ? source_lane(op, lane, arg, unsigned(width)) : int(lane);
  t->state = AT_WARP;
  std::string err = try_complete(warp, lane);
  if (!err.empty()) fail(where() + ": " + err);
  yield_to_main(false);
  return t->result;
}

extern "C" unsigned gpudl_emu_activemask(void) { return live_lanes(L.current->linear / 32); }

extern "C" void gpudl_emu_trap(const char* what) { fail(where() + ": " + what); }

extern "C" int gpudl_emu_run(const char* kernel, void (*body)(void*), void* closure, const unsigned* grid,
                             const unsigned* block, size_t shared_mem, int order, char* err, size_t errlen) {
  std::string problem = check_config(grid, block, shared_mem);
  if (!problem.empty()) {
    snprintf(err, errlen, "kernel '%s': %s", kernel, problem.c_str());
    return 1;
  }
  L.kernel = kernel, L.body = body, L.closure = closure, L.reverse = order != 0, L.failed = false;
  L.error.clear();
  gridDim = dim3(grid[0], grid[1], grid[2]);
  blockDim = dim3(block[0], block[1], block[2]);
  setup_threads(block);
  asan_poison(gpudl_emu_dynamic_shared + shared_mem, GPUDL_EMU_MAX_DYNAMIC_SHARED - shared_mem);
  install_fault_report();
  unsigned long long blocks = 1ull * grid[0] * grid[1] * grid[2];
  bool ok = true;
  for (unsigned long long b = 0; ok && b < blocks; ++b) {
    unsigned long long id = L.reverse ? blocks - 1 - b : b;
    blockIdx = uint3{unsigned(id % grid[0]), unsigned(id / grid[0] % grid[1]), unsigned(id / grid[0] / grid[1])};
    poison_shared(shared_mem);
    ok = run_block();
  }
  remove_fault_report();
  asan_unpoison(gpudl_emu_dynamic_shared, GPUDL_EMU_MAX_DYNAMIC_SHARED);
  if (!ok) {
    release_stacks();
    snprintf(err, errlen, "%s", L.error.c_str());
  }
  L.kernel = nullptr;
  return ok ? 0 : 1;
}
