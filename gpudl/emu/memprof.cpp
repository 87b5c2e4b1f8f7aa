// memprof.cpp — the memory profiler's half of a profiling build (gpudl/emu/memprof.py).
// The kernel's translation unit is compiled with -fsanitize=thread, so the compiler calls
// __tsan_readN / __tsan_writeN before every memory access it could not keep in registers; no
// ThreadSanitizer runtime is linked: the hooks below are the whole "runtime". Each access to
// shared memory or to one of the launch's array arguments is recorded with the running CUDA
// thread and the instruction (the hook's return address). When a block has finished, its
// accesses are grouped the way a GPU issues them: by warp (32 consecutive threads), instruction
// and dynamic occurrence (the k-th execution of that instruction by each lane of the warp, so
// lanes that skip it, or leave a loop early, are simply absent). Per group:
//   global memory  sectors = distinct 32-byte segments touched; ideal = ceil(distinct bytes / 32)
//   shared memory  32 banks of 4-byte words: wavefronts = the most distinct words in one bank
//                  (lanes reading one word share it: a broadcast); ideal = ceil(distinct words / 32)
// and the distinct sectors read and written over the launch (a lower bound on DRAM traffic).
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <numeric>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime_api.h"

#if defined(__ELF__)
extern "C" __attribute__((weak, visibility("hidden"))) unsigned char __start_gpudl_shared[];
extern "C" __attribute__((weak, visibility("hidden"))) unsigned char __stop_gpudl_shared[];
#endif

namespace {

constexpr unsigned kSector = 32, kBankWord = 4, kBanks = 32;

struct Access {
  uintptr_t addr, pc;
  unsigned thread;
  unsigned short size;
  bool write, shared;
};

// An instruction's key in the totals: its pc, memory space and direction.
uintptr_t key_of(const Access& a) { return a.pc << 2 | uintptr_t(a.shared) << 1 | uintptr_t(a.write); }

// One instruction's totals over the launch (a row of gpudl_emu_profile_read).
struct Totals {
  uint64_t requests, lanes, bytes, units, ideal_units, worst_ways;
};

// An array argument's bytes; `shift` moves its allocation's start to a multiple of 256 bytes,
// as cudaMalloc places it, so that sectors fall where they would on the GPU.
struct Range {
  uintptr_t begin, end, shift;
};

struct Profiler {
  bool on = false;
  std::vector<Range> arrays;
  std::vector<Range> template_shared;  // __shared__ variables of templates (outside the section)
  uintptr_t shared_begin = 0, shared_end = 0;
  std::vector<Access> block;
  unsigned long long block_id = ~0ull;
  std::unordered_map<uintptr_t, Totals> totals;  // key: pc << 2 | shared << 1 | write
  std::unordered_set<uintptr_t> read_sectors, written_sectors;
};

Profiler P;

const Range* array_of(uintptr_t a) {
  for (const Range& r : P.arrays)
    if (a >= r.begin && a < r.end) return &r;
  return nullptr;
}

bool in_shared(uintptr_t a) {
  uintptr_t dynamic = (uintptr_t)gpudl_emu_dynamic_shared;
  if ((a >= P.shared_begin && a < P.shared_end) || (a >= dynamic && a < dynamic + GPUDL_EMU_MAX_DYNAMIC_SHARED))
    return true;
  for (const Range& r : P.template_shared)
    if (a >= r.begin && a < r.end) return true;
  return false;
}

// Distinct units (sectors or bank words) the accesses of one group touch, sorted.
std::vector<uintptr_t> units(const Access* const* group, size_t n, unsigned unit) {
  std::vector<uintptr_t> out;
  for (size_t i = 0; i < n; ++i)
    for (uintptr_t u = group[i]->addr / unit; u <= (group[i]->addr + group[i]->size - 1) / unit; ++u) out.push_back(u);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Bytes covered by the union of the group's [addr, addr + size) intervals.
uint64_t distinct_bytes(const Access* const* group, size_t n) {
  std::vector<std::pair<uintptr_t, uintptr_t>> spans;
  for (size_t i = 0; i < n; ++i) spans.emplace_back(group[i]->addr, group[i]->addr + group[i]->size);
  std::sort(spans.begin(), spans.end());
  uint64_t total = 0;
  uintptr_t end = 0;
  for (auto [b, e] : spans) {
    if (e <= end) continue;
    total += e - std::max(b, end);
    end = e;
  }
  return total;
}

// One warp-level request: the same instruction's same occurrence in the active lanes of a warp.
void request(const Access* const* group, size_t n) {
  const Access& first = *group[0];
  Totals& t = P.totals[key_of(first)];
  t.requests += 1;
  t.lanes += n;
  for (size_t i = 0; i < n; ++i) t.bytes += group[i]->size;
  if (!first.shared) {
    std::vector<uintptr_t> sectors = units(group, n, kSector);
    t.units += sectors.size();
    t.ideal_units += (distinct_bytes(group, n) + kSector - 1) / kSector;
    (first.write ? P.written_sectors : P.read_sectors).insert(sectors.begin(), sectors.end());
    return;
  }
  std::vector<uintptr_t> words = units(group, n, kBankWord);
  unsigned per_bank[kBanks] = {};
  for (uintptr_t w : words) ++per_bank[w % kBanks];
  uint64_t wavefronts = *std::max_element(per_bank, per_bank + kBanks);
  uint64_t ideal = (words.size() + kBanks - 1) / kBanks;
  t.units += wavefronts;
  t.ideal_units += ideal;
  t.worst_ways = std::max(t.worst_ways, (wavefronts + ideal - 1) / ideal);
}

// Where one access goes: its instruction (key), warp and occurrence name its warp request.
struct Issue {
  uintptr_t key;
  unsigned warp, occurrence, index;
  bool operator<(const Issue& o) const {
    return std::tie(key, warp, occurrence, index) < std::tie(o.key, o.warp, o.occurrence, o.index);
  }
  bool same_request(const Issue& o) const { return key == o.key && warp == o.warp && occurrence == o.occurrence; }
};

// Groups the finished block's accesses into warp requests. A lane's k-th execution of an
// instruction is found by a stable sort on (thread, instruction): program order survives in it.
void flush_block() {
  std::vector<Access>& R = P.block;
  if (R.empty()) return;
  std::vector<unsigned> order(R.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) {
    return std::make_pair(R[a].thread, key_of(R[a])) < std::make_pair(R[b].thread, key_of(R[b]));
  });
  std::vector<Issue> issues(R.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const Access& a = R[order[k]];
    bool again = k > 0 && R[order[k - 1]].thread == a.thread && key_of(R[order[k - 1]]) == key_of(a);
    issues[k] = Issue{key_of(a), a.thread / 32, again ? issues[k - 1].occurrence + 1 : 0, order[k]};
  }
  std::sort(issues.begin(), issues.end());
  std::vector<const Access*> group;
  for (size_t k = 0; k < issues.size(); ++k) {
    group.push_back(&R[issues[k].index]);
    if (k + 1 == issues.size() || !issues[k].same_request(issues[k + 1])) {
      request(group.data(), group.size());
      group.clear();
    }
  }
  R.clear();
}

inline void note(void* pc, const void* p, size_t size, bool write) {
  if (!P.on || size == 0) return;
  uintptr_t a = (uintptr_t)p;
  bool shared = in_shared(a);
  if (!shared) {
    const Range* r = array_of(a);
    if (!r) return;  // the stack (spilled registers, local arrays), kernel parameters, built-in variables
    a -= r->shift;
  }
  unsigned long long id = (1ull * blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  if (id != P.block_id) {
    flush_block();
    P.block_id = id;
  }
  unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  unsigned short width = (unsigned short)std::min<size_t>(size, 0xFFFF);  // range accesses: the first 64 KiB
  P.block.push_back(Access{a, (uintptr_t)pc, thread, width, write, shared});
}

uintptr_t library_base() {
  Dl_info info;
  return dladdr((void*)&flush_block, &info) ? (uintptr_t)info.dli_fbase : 0;
}

}  // namespace

#define GPUDL_EMU_EXPORT extern "C" __attribute__((visibility("default")))

// The compiler ignores the section of a function-local static in a template, so the __shared__
// variables of templates are named by the loader: (offset, size) pairs within this library.
GPUDL_EMU_EXPORT void gpudl_emu_profile_template_shared(const uint64_t* ranges, size_t n) {
  uintptr_t base = library_base();
  P.template_shared.clear();
  for (size_t i = 0; i < n; ++i) {
    uintptr_t begin = base + uintptr_t(ranges[2 * i]);
    P.template_shared.push_back(Range{begin, begin + uintptr_t(ranges[2 * i + 1]), 0});
  }
}

// Start recording: `ranges` holds (begin, end, shift) triples, one per array argument of the launch.
GPUDL_EMU_EXPORT void gpudl_emu_profile_begin(const uint64_t* ranges, size_t n) {
  P.arrays.clear();
  for (const uint64_t* r = ranges; r < ranges + 3 * n; r += 3)
    P.arrays.push_back(Range{uintptr_t(r[0]), uintptr_t(r[1]), uintptr_t(r[2])});
#if defined(__ELF__)
  P.shared_begin = (uintptr_t)__start_gpudl_shared, P.shared_end = (uintptr_t)__stop_gpudl_shared;
#endif
  P.block.clear(), P.totals.clear(), P.read_sectors.clear(), P.written_sectors.clear();
  P.block_id = ~0ull;
  P.on = true;
}

// Stop recording; the number of instruction rows gpudl_emu_profile_read will write.
GPUDL_EMU_EXPORT size_t gpudl_emu_profile_end() {
  flush_block();
  P.on = false;
  return P.totals.size();
}

// Rows of 9 numbers: pc offset in the library, shared, write, requests, lanes, bytes, sectors or
// wavefronts, their ideal count, worst n-way conflict; then the launch's distinct sectors read, written.
GPUDL_EMU_EXPORT void gpudl_emu_profile_read(uint64_t* rows, uint64_t* sectors) {
  uintptr_t base = library_base();
  for (const auto& [key, t] : P.totals) {
    uint64_t row[9] = {(key >> 2) - base, (key >> 1) & 1, key & 1, t.requests, t.lanes, t.bytes,
                       t.units, t.ideal_units, t.worst_ways};
    memcpy(rows, row, sizeof row);
    rows += 9;
  }
  sectors[0] = P.read_sectors.size(), sectors[1] = P.written_sectors.size();
  P.totals.clear(), P.read_sectors.clear(), P.written_sectors.clear();
}

// ---- the ThreadSanitizer interface the instrumented code calls ----
// Hidden: each profiling library's instrumented code calls its own hooks, never another's.
#define GPUDL_EMU_HOOK(name, size, write) \
  extern "C" GPUDL_EMU_HIDDEN void name(void* p) { note(__builtin_return_address(0), p, size, write); }
#define GPUDL_EMU_HOOKS(size)                                   \
  GPUDL_EMU_HOOK(__tsan_read##size, size, false)                \
  GPUDL_EMU_HOOK(__tsan_write##size, size, true)                \
  GPUDL_EMU_HOOK(__tsan_unaligned_read##size, size, false)      \
  GPUDL_EMU_HOOK(__tsan_unaligned_write##size, size, true)      \
  GPUDL_EMU_HOOK(__tsan_volatile_read##size, size, false)       \
  GPUDL_EMU_HOOK(__tsan_volatile_write##size, size, true)
GPUDL_EMU_HOOKS(1)
GPUDL_EMU_HOOKS(2)
GPUDL_EMU_HOOKS(4)
GPUDL_EMU_HOOKS(8)
GPUDL_EMU_HOOKS(16)
extern "C" GPUDL_EMU_HIDDEN void __tsan_read_range(void* p, size_t size) {
  note(__builtin_return_address(0), p, size, false);
}
extern "C" GPUDL_EMU_HIDDEN void __tsan_write_range(void* p, size_t size) {
  note(__builtin_return_address(0), p, size, true);
}
extern "C" GPUDL_EMU_HIDDEN void __tsan_func_entry(void*) {}
extern "C" GPUDL_EMU_HIDDEN void __tsan_func_exit() {}
extern "C" GPUDL_EMU_HIDDEN void __tsan_init() {}
extern "C" GPUDL_EMU_HIDDEN void __tsan_vptr_update(void**, void*) {}
extern "C" GPUDL_EMU_HIDDEN void __tsan_vptr_read(void**) {}
