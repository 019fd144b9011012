#include "vmm/sandbox/sandbox_files.h"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "base/error.h"
#include "vmm/error.h"

namespace brig {
namespace {

std::filesystem::path executable_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) base::throw_errno("cannot resolve /proc/self/exe", ec.value());
    return exe.parent_path();
}

std::filesystem::path first_existing(std::initializer_list<std::filesystem::path> candidates, const char* what) {
    for (const auto& c : candidates)
        if (access(c.c_str(), F_OK) == 0) return c;
    std::string tried;
    for (const auto& c : candidates) tried += (tried.empty() ? "" : ", ") + c.string();
    throw HostError(std::string("cannot find ") + what + " (tried " + tried + ")");
}

}  // namespace

std::filesystem::path find_device_executable() {
#ifdef BRIG_TEST_BUILD
    if (const char* env = std::getenv("BRIG_DEVICE_BINARY"); env && *env) {
        if (access(env, X_OK) != 0) throw HostError(std::string("BRIG_DEVICE_BINARY: cannot execute ") + env);
        return env;
    }
#endif
    const auto dir = executable_dir();
    return first_existing({dir / BRIG_RELATIVE_LIBEXECDIR / "brig-device", dir / "../device-procs/brig-device"},
                          "the brig-device executable");
}

std::filesystem::path syslog_socket_path() {
#ifdef BRIG_TEST_BUILD
    if (const char* env = std::getenv("BRIG_TEST_SYSLOG_SOCKET"); env && *env) return env;
#endif
    return "/dev/log";
}

std::filesystem::path find_policy_dir() {
    const auto dir = executable_dir();
#ifdef BRIG_TEST_BUILD
    return first_existing({dir / BRIG_RELATIVE_POLICYDIR, dir / "../policies", BRIG_SOURCE_POLICYDIR},
                          "the seccomp policy directory");
#else
    // Installed, or the build tree's copy (policies/meson.build), never the sources.
    return first_existing({dir / BRIG_RELATIVE_POLICYDIR, dir / "../policies"}, "the seccomp policy directory");
#endif
}

}  // namespace brig
