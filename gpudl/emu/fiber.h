// fiber.h — the cooperative context switch under the scheduler: make a context that starts
// `entry` on a given stack, and swap from one context to another.
// x86-64 ELF: six callee-saved registers pushed on the old stack, stack pointers exchanged,
// popped from the new one (~10x faster than swapcontext, which also saves the signal mask
// with a system call). Elsewhere, or with GPUDL_EMU_UCONTEXT defined: POSIX ucontext.
// The SSE/x87 control words are not switched: kernels do not change rounding modes.
#pragma once
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__ELF__) && !defined(GPUDL_EMU_UCONTEXT)

extern "C" void gpudl_emu_swap(void** save_sp, void* load_sp) __attribute__((visibility("hidden")));
asm(R"(
  .text
  .globl gpudl_emu_swap
  .hidden gpudl_emu_swap
  .type gpudl_emu_swap, @function
gpudl_emu_swap:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size gpudl_emu_swap, .-gpudl_emu_swap
)");

struct FiberContext {
  void* sp;
};

// Lay out the new stack as gpudl_emu_swap will pop it: six zero registers, then `entry` as
// the return address, then a zero fake return address so that entry starts with
// rsp % 16 == 8, exactly as after a call instruction.
inline void fiber_make(FiberContext* c, char* stack, size_t size, void (*entry)()) {
  uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
  void** sp = (void**)top;
  *--sp = nullptr;
  *--sp = (void*)entry;
  for (int i = 0; i < 6; ++i) *--sp = nullptr;
  c->sp = sp;
}

inline void fiber_swap(FiberContext* from, FiberContext* to) { gpudl_emu_swap(&from->sp, to->sp); }

#else

#if defined(__APPLE__) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700
#endif
#include <ucontext.h>

struct FiberContext {
  ucontext_t uc;
};

inline void fiber_make(FiberContext* c, char* stack, size_t size, void (*entry)()) {
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = stack;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = nullptr;
  makecontext(&c->uc, entry, 0);
}

inline void fiber_swap(FiberContext* from, FiberContext* to) { swapcontext(&from->uc, &to->uc); }

#endif
