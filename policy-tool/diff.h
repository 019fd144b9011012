// `brig policy diff OLD NEW`: compares effective policies (@include resolved) by value:
// a condition written `FIONBIO` and one written `0x5421` are the same. OLD and NEW are
// each a policy file or a directory of them (compared file by file, by name).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "minijail-wrapper/minijail/policy.h"
#include "policy-tool/render.h"
#include "policy-tool/risk_rules.h"

namespace brig::policy_tool {

struct RuleDiff {
    std::string syscall;
    std::optional<minijail::SyscallRule> old_rule, new_rule;  // one missing: added or removed
    std::optional<Risk> old_risk, new_risk;
};

struct FileDiff {
    std::string name;     // file name ("serial_device.policy"), or the NEW path for two files
    std::string context;  // the sandbox context using it, or ""
    enum class Status { Same, Changed, OnlyOld, OnlyNew } status = Status::Same;
    std::vector<RuleDiff> added, removed, changed;
};

struct DiffReport {
    std::vector<FileDiff> files;
    bool identical() const;
};

// Throws PolicyError / std::runtime_error when a policy cannot be read, and
// std::invalid_argument when OLD and NEW are not both files or both directories.
DiffReport diff_policies(const std::filesystem::path& old_path, const std::filesystem::path& new_path);

std::string diff_text(const DiffReport& report);
Json diff_json(const DiffReport& report);

}  // namespace brig::policy_tool
