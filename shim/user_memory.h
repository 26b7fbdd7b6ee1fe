// Checks on pointers the program hands us. The kernel answers EFAULT for memory it cannot copy;
// the shim cannot probe every page cheaply, so it rejects what can never be mapped (below
// vm.mmap_min_addr, 64 KiB on Debian) -- which is what programs and tests pass when they mean a
// bad pointer -- and trusts the rest, as any library function does.
#pragma once

#include <cstdint>

namespace tapsock::shim {

constexpr uintptr_t kMinMappableAddress = 65536;

inline bool BadPointer(const void* p) { return reinterpret_cast<uintptr_t>(p) < kMinMappableAddress; }
// A buffer of n bytes is fine when empty or mappable.
inline bool BadBuffer(const void* p, uint64_t n) { return n != 0 && BadPointer(p); }

}  // namespace tapsock::shim
