// The policy --seccomp=learn proposes: valid minijail syntax, sorted, minimal.
#include <sys/mman.h>

#include <catch2/catch.hpp>

#include "minijail-wrapper/minijail/policy.h"
#include "vmm/sandbox/learned_policy.h"

namespace {

int nr(const char* name) {
    const int n = minijail::syscall_number(name);
    REQUIRE(n >= 0);
    return n;
}

void see(brig::LearnedSyscalls& seen, const char* name, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0) {
    const uint64_t args[6] = {a0, a1, a2, 0, 0, 0};
    seen.record(nr(name), args);
}

}  // namespace

TEST_CASE("a learned policy parses, compiles and allows only what was seen", "[sandbox]") {
    brig::LearnedSyscalls seen;
    seen.devices = {"serial (pid 42)"};
    see(seen, "write", 1);
    see(seen, "read", 0);
    see(seen, "ioctl", 3, 0x5421 /* FIONBIO */);
    see(seen, "ioctl", 3, 0x5421);
    see(seen, "ioctl", 4, 0x12345678);
    see(seen, "mmap", 0, 4096, PROT_READ | PROT_WRITE);
    see(seen, "mprotect", 0, 4096, PROT_READ | PROT_EXEC);
    see(seen, "clone3");
    see(seen, "clone", 0x3d0f00);
    const std::string text =
        brig::render_learned_policy({"serial", "serial_device.policy", "2025-01-01T00:00:00Z", "brig run x"}, seen);
    INFO(text);
    CHECK(text.starts_with("# serial_device.policy: proposed seccomp policy"));
    CHECK(text.find("@include") == std::string::npos);
    CHECK(text.find("\nioctl: arg1 == FIONBIO || arg1 == 0x12345678\n") != std::string::npos);
    CHECK(text.find("\nmmap: arg2 in ~PROT_EXEC\n") != std::string::npos);
    CHECK(text.find("\nmprotect: 1\n") != std::string::npos);  // PROT_EXEC was seen: no narrowing, a note
    CHECK(text.find("# mprotect was called with PROT_EXEC") != std::string::npos);
    CHECK(text.find("\nclone3: return ENOSYS\n") != std::string::npos);
    CHECK(text.find("\nclone: arg0 == 0x3d0f00\n") != std::string::npos);
    CHECK(text.find("\nsendmsg: 1\n") != std::string::npos);  // the SIGSYS report needs it

    const minijail::Policy policy = minijail::parse_policy_text(text);
    std::vector<std::string> names;
    for (const auto& rule : policy.rules) names.push_back(rule.name);
    CHECK(names ==
          std::vector<std::string>{"clone", "clone3", "ioctl", "mmap", "mprotect", "read", "sendmsg", "write"});
    CHECK_FALSE(minijail::compile_policy(policy, minijail::DefaultAction::Trap).empty());
}
