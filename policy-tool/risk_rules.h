// How risky each allowance of a seccomp policy is, and which jail settings of a device
// matter. The rules are one table (risk_rules.cpp) meant to be read and extended.
//
// High: an allowance that can break the sandbox (or widens the kernel attack surface a
// lot). The audit reports each high allowance as a finding unless the policy file
// justifies it with a comment `# audit-allow: SYSCALL — reason`.
// Medium: worth knowing about, not a finding. Low: everything else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minijail-wrapper/minijail/policy.h"
#include "ipc/sandbox/profiles.h"

namespace brig::policy_tool {

enum class Risk { Low, Medium, High };
std::string_view to_string(Risk risk);  // "low", "medium", "high"

struct Assessment {
    Risk risk = Risk::Low;
    std::string why;  // one line; empty for an ordinary low-risk allowance
};

// The risk of one rule in a context of the given kind. A rule that only ever returns an
// errno allows nothing and is low.
Assessment assess_rule(const minijail::SyscallRule& rule, sandbox::ContextKind kind);

// One jail setting of a device process, checked against what a device jail must have.
struct JailCheck {
    std::string key;   // what `# audit-allow: KEY — reason` names: "jail:net", "jail:capabilities", ...
    std::string item;  // "namespace net", "capabilities", ...
    bool ok = false;
    Risk risk = Risk::High;  // when not ok
    std::string detail;      // what the profile says, or what is missing
};

// Empty for a thread of brig (it has no jail of its own).
std::vector<JailCheck> check_jail(const sandbox::SandboxContext& context);

}  // namespace brig::policy_tool
