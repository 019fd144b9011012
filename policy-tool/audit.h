// `brig policy audit`: every sandbox context's allowances and jail, rated by
// risk_rules, with high-risk items that the policy file does not justify reported
// as findings.
//
// A justification is a comment anywhere in the policy file or a file it includes:
//   # audit-allow: SYSCALL — reason      (or `-` instead of the em dash)
// KEY may also be a jail check's key (jail:net, jail:capabilities, ...). A reason is required.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "minijail-wrapper/minijail/policy.h"
#include "policy-tool/render.h"
#include "policy-tool/risk_rules.h"
#include "ipc/sandbox/profiles.h"

namespace brig::policy_tool {

struct Justification {
    std::string key;  // "execve", "jail:net"
    std::string reason;
    std::string source;  // "serial_device.policy:3"
};

// Parses one comment's text (after '#'). nullopt when it is not an audit-allow
// comment; `malformed` is set when it starts like one but has no key or no reason.
std::optional<Justification> parse_justification(const std::string& comment_text, bool* malformed = nullptr);

struct AllowanceAudit {
    minijail::SyscallRule rule;
    Assessment assessment;
    std::string source;                          // file:line of the rule
    std::optional<Justification> justification;  // for a high-risk rule
    bool finding = false;                        // high and unjustified
    bool unused_in_observed = false;             // --observed: never used in those runs
};

struct JailAudit {
    JailCheck check;
    std::optional<Justification> justification;
    bool finding = false;
};

struct ContextAudit {
    const sandbox::SandboxContext* context = nullptr;
    std::filesystem::path policy_path;
    std::string error;  // the policy could not be read or parsed (a finding)
    std::vector<AllowanceAudit> allowances;
    std::vector<JailAudit> jail;
    std::vector<std::string> notes;  // malformed or unused justifications, observed runs
    // --observed
    bool observed = false;                          // a proposed policy for this context was found
    std::vector<std::string> observed_not_allowed;  // used in the runs but not allowed by the shipped policy
    int findings() const;
};

struct AuditReport {
    std::vector<ContextAudit> contexts;
    int findings() const;
    bool clean() const { return findings() == 0; }
};

AuditReport run_audit(const std::vector<sandbox::SandboxContext>& contexts, const std::filesystem::path& policy_dir,
                      const std::optional<std::filesystem::path>& observed_dir);

std::string audit_text(const AuditReport& report);
Json audit_json(const AuditReport& report);

}  // namespace brig::policy_tool
