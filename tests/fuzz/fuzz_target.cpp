#include "tests/fuzz/fuzz_target.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace brig::fuzz {

std::map<std::string, TargetFn>& targets() {
    static std::map<std::string, TargetFn> all;
    return all;
}

void fail(const std::string& what) {
#ifdef BRIG_LIBFUZZER
    std::fprintf(stderr, "brig fuzz: invariant broken: %s\n", what.c_str());
    std::abort();
#else
    throw InvariantBroken{what};
#endif
}

void init_once() {
    static std::once_flag once;
    std::call_once(once, [] { spdlog::set_level(spdlog::level::off); });
}

}  // namespace brig::fuzz
