// Rendering policies and jail profiles for `brig policy`: rules back in minijail
// syntax, actions, sources, aligned tables, and their JSON forms.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "minijail-wrapper/minijail/policy.h"
#include "ipc/sandbox/profiles.h"

namespace brig::policy_tool {

// `--json` output: objects keep insertion order, so keys read in a stable, meaningful order.
using Json = nlohmann::ordered_json;

// The document as printed: indented by two spaces, no trailing newline. Bytes that are not
// UTF-8 (a file name, a policy comment) become U+FFFD rather than an exception.
std::string json_text(const Json& document);

std::string hex(uint64_t value);  // "0x5421"
std::string errno_name(int e);    // "ENOSYS", or the number

// How comparison values are written.
enum class ValueStyle {
    Written,  // as in the file: `arg1 == FIONBIO` (valid minijail syntax)
    Hex,      // by value: `arg1 == 0x5421` (valid minijail syntax)
    Both,     // for people: `arg1 == FIONBIO (0x5421)`; hex alone when that is how it was written
};

std::string render_comparison(const minijail::Comparison& c, ValueStyle style);
// The rule's expression: clauses joined by `||`, comparisons by `&&`; empty when unconditional.
std::string render_condition(const minijail::SyscallRule& rule, ValueStyle style);
// The same, one clause per line ("", or "A && B", then "|| C", ...), for tables.
std::vector<std::string> condition_lines(const minijail::SyscallRule& rule, ValueStyle style);
// "allow", "allow-if", "allow-if, else return EINVAL", "return ENOSYS".
std::string render_action(const minijail::SyscallRule& rule);
// The rule as a policy line: `ioctl: arg1 == FIONBIO; return ENOTTY`.
std::string render_rule_line(const minijail::SyscallRule& rule, ValueStyle style);
// "common_device.policy:7": the file relative to `base` when it is inside it.
std::string render_source(const std::filesystem::path& file, int line, const std::filesystem::path& base);

Json rule_json(const minijail::SyscallRule& rule, const std::filesystem::path& base);

std::string kind_name(sandbox::ContextKind kind);  // "device process", "brig thread"
std::string jail_summary(const sandbox::JailProfile& jail);

// The ids the maps are shown with (`brig policy show --jail-user`); without them the
// maps read "J J 1", J being each device's own id from --jail-ids.
struct ShownIds {
    uint32_t uid;
    uint32_t gid;
};

// The jail a context runs in, as (label, value) lines, and as JSON.
std::vector<std::pair<std::string, std::string>> jail_lines(const sandbox::SandboxContext& context,
                                                            const std::optional<ShownIds>& ids);
Json jail_json(const sandbox::SandboxContext& context, const std::optional<ShownIds>& ids);

// Columns padded to their widest cell (the last one is not padded).
class Table {
public:
    explicit Table(std::vector<std::string> header = {}) {
        if (!header.empty()) rows_.push_back(std::move(header));
    }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const { return rows_.empty(); }
    std::string str(const std::string& indent = "") const;

private:
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace brig::policy_tool
