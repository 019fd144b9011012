// glibc's malloc gives threads arenas of their own, and the first time it shrinks such
// an arena's heap it reads /proc/sys/vm/overcommit_memory: an openat() that no brig
// filter allows (a device has no open at all), made at a moment nobody chose, on
// whichever thread freed memory. The main arena (grown and trimmed with brk, large
// blocks with mmap) never does, so every brig process keeps to it. Call first in
// main(), before any thread exists. brig's threads allocate little and rarely, so the
// one arena's lock costs nothing measurable.
#pragma once

#include <malloc.h>

namespace base {

inline void use_main_malloc_arena_only() { mallopt(M_ARENA_MAX, 1); }

}  // namespace base
