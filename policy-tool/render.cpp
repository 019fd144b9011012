#include "policy-tool/render.h"

#include <cstdio>
#include <cstring>

namespace brig::policy_tool {

std::string json_text(const Json& document) { return document.dump(2, ' ', false, Json::error_handler_t::replace); }

std::string hex(uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
    return buf;
}

std::string errno_name(int e) {
    if (const char* name = strerrorname_np(e)) return name;
    return std::to_string(e);
}

std::string render_comparison(const minijail::Comparison& c, ValueStyle style) {
    std::string out = "arg" + std::to_string(c.arg) + " " + std::string(minijail::to_string(c.op)) + " ";
    const std::string h = hex(c.value);
    const std::string& written = c.value_text.empty() ? h : c.value_text;
    switch (style) {
        case ValueStyle::Written:
            return out + written;
        case ValueStyle::Hex:
            return out + h;
        case ValueStyle::Both:
            return written == h ? out + h : out + written + " (" + h + ")";
    }
    return out;
}

std::string render_condition(const minijail::SyscallRule& rule, ValueStyle style) {
    std::string out;
    for (size_t i = 0; i < rule.clauses.size(); ++i) {
        if (i) out += " || ";
        for (size_t j = 0; j < rule.clauses[i].size(); ++j) {
            if (j) out += " && ";
            out += render_comparison(rule.clauses[i][j], style);
        }
    }
    return out;
}

std::vector<std::string> condition_lines(const minijail::SyscallRule& rule, ValueStyle style) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < rule.clauses.size(); ++i) {
        std::string line = i ? "|| " : "";
        for (size_t j = 0; j < rule.clauses[i].size(); ++j) {
            if (j) line += " && ";
            line += render_comparison(rule.clauses[i][j], style);
        }
        lines.push_back(std::move(line));
    }
    if (lines.empty()) lines.emplace_back();
    return lines;
}

std::string render_action(const minijail::SyscallRule& rule) {
    if (rule.clauses.empty()) return rule.errno_value ? "return " + errno_name(*rule.errno_value) : "allow";
    return rule.errno_value ? "allow-if, else return " + errno_name(*rule.errno_value) : "allow-if";
}

std::string render_rule_line(const minijail::SyscallRule& rule, ValueStyle style) {
    std::string out = rule.name + ": ";
    if (rule.clauses.empty()) return out + (rule.errno_value ? "return " + errno_name(*rule.errno_value) : "1");
    out += render_condition(rule, style);
    if (rule.errno_value) out += "; return " + errno_name(*rule.errno_value);
    return out;
}

std::string render_source(const std::filesystem::path& file, int line, const std::filesystem::path& base) {
    std::string name = file.string();
    if (!base.empty()) {
        auto rel = file.lexically_relative(base);
        if (!rel.empty() && *rel.begin() != "..") name = rel.string();
    }
    return name + ":" + std::to_string(line);
}

Json rule_json(const minijail::SyscallRule& rule, const std::filesystem::path& base) {
    Json j = Json::object();
    j["syscall"] = rule.name;
    j["nr"] = rule.nr;
    std::string action = rule.clauses.empty() ? (rule.errno_value ? "return" : "allow") : "allow-if";
    j["action"] = action;
    j["errno"] = rule.errno_value ? Json(errno_name(*rule.errno_value)) : Json();
    j["condition"] = render_condition(rule, ValueStyle::Written);
    j["condition_hex"] = render_condition(rule, ValueStyle::Hex);
    Json clauses = Json::array();
    for (const auto& clause : rule.clauses) {
        Json cj = Json::array();
        for (const auto& c : clause) {
            Json cmp = Json::object();
            cmp["arg"] = c.arg;
            cmp["op"] = std::string(minijail::to_string(c.op));
            cmp["value"] = hex(c.value);
            cmp["written"] = c.value_text;
            cj.push_back(std::move(cmp));
        }
        clauses.push_back(std::move(cj));
    }
    j["clauses"] = std::move(clauses);
    j["source"] = render_source(rule.location.file, rule.location.line, base);
    return j;
}

std::string kind_name(sandbox::ContextKind kind) {
    return kind == sandbox::ContextKind::DeviceProcess ? "device process" : "brig thread";
}

std::string jail_summary(const sandbox::JailProfile& jail) {
    if (!jail.own_process)
        return std::string("no jail of its own: seccomp only") + (jail.no_new_privs ? ", no_new_privs" : "");
    std::string s = std::to_string(jail.namespaces.size()) + " namespaces";
    if (jail.id_map_unprivileged) s += ", ids J J 1";
    s += jail.drops_all_capabilities ? ", no capabilities" : ", capabilities kept";
    if (jail.no_new_privs) s += ", no_new_privs";
    s += jail.root.rfind("empty", 0) == 0 ? ", empty root" : ", root: " + jail.root;
    s += ", " + std::to_string(jail.rlimits.size()) + " rlimits";
    s += ", " + std::to_string(jail.kept_fds.size()) + " fds";
    if (jail.parent_death_signal) s += ", parent-death signal";
    return s;
}

namespace {

std::string id_map(uint32_t id) { return std::to_string(id) + " " + std::to_string(id) + " 1"; }

constexpr const char* kPerDeviceIds =
    "one uid/gid per device (uid = gid), from --jail-ids (default 400000-499999), "
    "or the --jail-user ids shared by the VM's devices";

std::string rlimit_value(uint64_t v) { return v == UINT64_MAX ? "unlimited" : std::to_string(v); }

}  // namespace

std::vector<std::pair<std::string, std::string>> jail_lines(const sandbox::SandboxContext& context,
                                                            const std::optional<ShownIds>& ids) {
    const auto& jail = context.jail;
    std::vector<std::pair<std::string, std::string>> lines;
    if (!jail.own_process) {
        lines.emplace_back("process", "brig's own (a thread class: seccomp filter only, no jail of its own)");
        lines.emplace_back("no_new_privs", jail.no_new_privs ? "yes" : "no");
        lines.emplace_back("root", jail.root);
        return lines;
    }
    lines.emplace_back("process", "own (brig-device, fork+exec)");
    std::string ns;
    for (const auto& n : jail.namespaces) ns += (ns.empty() ? "" : " ") + n;
    lines.emplace_back("namespaces", ns.empty() ? "none" : ns);
    if (jail.id_map_unprivileged) lines.emplace_back("ids", kPerDeviceIds);
    lines.emplace_back("uid_map", !jail.id_map_unprivileged ? "none (brig's ids)"
                                  : ids                     ? id_map(ids->uid) + "  (J J 1, J = --jail-user)"
                                                            : "J J 1  (J = the device's id)");
    lines.emplace_back("gid_map", !jail.id_map_unprivileged ? "none (brig's ids)"
                                  : ids                     ? id_map(ids->gid) + "  (J J 1, J = --jail-user)"
                                                            : "J J 1  (J = the device's id)");
    lines.emplace_back("capabilities", jail.drops_all_capabilities
                                           ? "none (effective, permitted, inheritable, bounding, ambient)"
                                           : "kept");
    lines.emplace_back("no_new_privs", jail.no_new_privs ? "yes" : "no");
    lines.emplace_back("root", jail.root);
    if (jail.rlimits.empty()) lines.emplace_back("rlimits", "none");
    for (const auto& r : jail.rlimits)
        lines.emplace_back("rlimit", std::string(r.name) + " " + rlimit_value(r.soft) +
                                         (r.soft == r.hard ? "" : " (hard " + rlimit_value(r.hard) + ")"));
    if (jail.cgroup_memory_bytes || jail.cgroup_pids)
        lines.emplace_back("cgroup", "with --cgroup-parent, its own: memory " +
                                         std::to_string(jail.cgroup_memory_bytes >> 20) + " MiB" +
                                         (jail.cgroup_memory_plus_guest ? " + the guest's memory size" : "") + ", " +
                                         std::to_string(jail.cgroup_pids) + " tasks");
    for (const auto& fd : jail.kept_fds) lines.emplace_back("fd", fd);
    lines.emplace_back("parent-death signal", jail.parent_death_signal ? "yes" : "no");
    return lines;
}

Json jail_json(const sandbox::SandboxContext& context, const std::optional<ShownIds>& ids) {
    const auto& jail = context.jail;
    Json j = Json::object();
    j["own_process"] = jail.own_process;
    Json ns = Json::array();
    for (const auto& n : jail.namespaces) ns.push_back(n);
    j["namespaces"] = std::move(ns);
    bool mapped = jail.own_process && jail.id_map_unprivileged;
    j["ids"] = mapped ? Json(kPerDeviceIds) : Json();
    j["uid_map"] = mapped ? Json(ids ? id_map(ids->uid) : "J J 1") : Json();
    j["gid_map"] = mapped ? Json(ids ? id_map(ids->gid) : "J J 1") : Json();
    j["capabilities"] = jail.drops_all_capabilities ? "none" : (jail.own_process ? "kept" : "brig's own");
    j["no_new_privs"] = jail.no_new_privs;
    j["root"] = jail.root;
    Json rl = Json::array();
    for (const auto& r : jail.rlimits) {
        Json o = Json::object();
        o["name"] = r.name;
        o["soft"] = r.soft;
        o["hard"] = r.hard;
        rl.push_back(std::move(o));
    }
    j["rlimits"] = std::move(rl);
    Json fds = Json::array();
    for (const auto& fd : jail.kept_fds) fds.push_back(fd);
    j["kept_fds"] = std::move(fds);
    j["parent_death_signal"] = jail.parent_death_signal;
    if (jail.cgroup_memory_bytes || jail.cgroup_pids) {
        Json cgroup = Json::object();
        cgroup["memory_bytes"] = jail.cgroup_memory_bytes;
        cgroup["plus_guest_memory"] = jail.cgroup_memory_plus_guest;
        cgroup["pids"] = jail.cgroup_pids;
        j["cgroup"] = std::move(cgroup);
    } else {
        j["cgroup"] = Json();
    }
    return j;
}

std::string Table::str(const std::string& indent) const {
    std::vector<size_t> width;
    for (const auto& row : rows_)
        for (size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (const auto& row : rows_) {
        std::string line = indent;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace brig::policy_tool
