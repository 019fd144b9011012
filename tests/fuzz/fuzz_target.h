// How a fuzz target is declared, in one place, so that the same body runs under
// libFuzzer (meson -Dfuzz=true, clang) and in the ordinary unit suite, where every
// committed seed and every regression input is replayed through it
// (tests/fuzz/replay_test.cpp).
//
//   BRIG_FUZZ_TARGET(virtio_mmio) { FuzzInput in(data, size); ...; return 0; }
//
// A broken invariant calls fuzz::fail(): libFuzzer then saves the input as a crash,
// and the replay test fails naming the target and the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace brig::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

// Every target linked into this binary, by name (the unit build links them all).
std::map<std::string, TargetFn>& targets();

struct Registrar {
    Registrar(const char* name, TargetFn fn) { targets()[name] = fn; }
};

// Not a std::exception, so that no target's `catch (const std::exception&)` for the
// errors it expects can swallow it.
struct InvariantBroken {
    std::string what;
};

// Reports a broken invariant: abort() under libFuzzer (which saves the input), an
// InvariantBroken for the replay test.
[[noreturn]] void fail(const std::string& what);

// Runs once before the first input: quiets spdlog (hostile inputs log a line each).
void init_once();

}  // namespace brig::fuzz

#ifdef BRIG_LIBFUZZER
#define BRIG_FUZZ_TARGET(name)                                                \
    static int brig_fuzz_##name(const uint8_t* data, size_t size);            \
    extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
        ::brig::fuzz::init_once();                                            \
        return brig_fuzz_##name(data, size);                                  \
    }                                                                         \
    static int brig_fuzz_##name(const uint8_t* data, size_t size)
#else
#define BRIG_FUZZ_TARGET(name)                                                                \
    static int brig_fuzz_##name(const uint8_t* data, size_t size);                            \
    static const ::brig::fuzz::Registrar brig_fuzz_registrar_##name(#name, brig_fuzz_##name); \
    static int brig_fuzz_##name(const uint8_t* data, size_t size)
#endif
