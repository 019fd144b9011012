// What --seccomp=learn saw a device kind do, and the minimal policy proposed from it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace brig {

// The syscalls one device kind made (all its processes together).
struct LearnedSyscalls {
    struct Seen {
        uint64_t count = 0;
        std::set<uint64_t> arg_values;  // of filtered_argument(nr), if it has one
    };
    std::map<int, Seen> syscalls;      // by x86-64 number
    std::vector<std::string> devices;  // "serial (pid 1234)"

    void record(int nr, const uint64_t (&args)[6]);
};

// The argument brig's policies restrict for a syscall, whose values learn mode
// records: ioctl/fcntl arg1 (the command), prctl arg0 (the option), mmap/mprotect/
// pkey_mprotect arg2 (prot), clone arg0 (flags), socket arg0 (family), newfstatat
// arg3 (flags).
std::optional<int> filtered_argument(int nr);

struct LearnedPolicyHeader {
    std::string kind;         // "serial"
    std::string policy_file;  // "serial_device.policy"
    std::string date;         // "2025-01-31T12:00:00Z"
    std::string workload;     // the brig command line
};

// The proposed policy in minijail syntax: a header comment, then one rule per
// syscall sorted by name, self-contained (no @include). Argument-filtered syscalls
// become `argN == V || ...` (V named when the constant table has one unambiguous
// name for it); mmap/mprotect become `arg2 in ~PROT_EXEC` unless PROT_EXEC was seen;
// clone3 becomes `return ENOSYS` (glibc then falls back to clone, which learn mode
// records because it answered clone3 the same way).
std::string render_learned_policy(const LearnedPolicyHeader& header, const LearnedSyscalls& seen);

}  // namespace brig
