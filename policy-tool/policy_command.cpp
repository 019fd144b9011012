#include "policy-tool/policy_command.h"

#include <charconv>
#include <cstdint>
#include <iostream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>

#include "minijail-wrapper/minijail/policy.h"
#include "policy-tool/audit.h"
#include "policy-tool/diff.h"
#include "policy-tool/render.h"
#include "ipc/sandbox/profiles.h"
#include "vmm/sandbox/sandbox_files.h"

namespace brig {

using namespace policy_tool;

std::string policy_help() {
    return "usage: brig policy COMMAND [--json] [--policy-dir DIR] ...\n"
           "\n"
           "  list                     every sandbox context: device processes and brig's thread classes\n"
           "  show NAME [--bpf] [--jail-user UID[:GID]]\n"
           "                           the effective policy (@include resolved, with each rule's source)\n"
           "                           and the jail (ids, rlimits, cgroup limits); --bpf adds the compiled\n"
           "                           filter (libseccomp PFC); --jail-user: the id maps for these ids\n"
           "                           (without it: J J 1, J being each device's own id)\n"
           "                           NAME is a context (see list) or a policy file\n"
           "  check FILE...            parse and compile policy files: `FILE: ok (N syscalls)`, or the\n"
           "                           error as file:line:column; exit 1 if any fails\n"
           "  audit [--observed DIR]   rate every allowance (high/medium/low) and jail setting; exit 1 if a\n"
           "                           high-risk one is not justified by `# audit-allow: SYSCALL - reason`\n"
           "                           in the policy. --observed DIR: proposed policies from\n"
           "                           `brig run --seccomp=learn`; flags allowances those runs never used\n"
           "  diff OLD NEW             compare policy files or directories (`builtin`: the shipped ones) by\n"
           "                           value: syscalls added, removed, changed, risk changes; exit 0 when\n"
           "                           identical, 1 when they differ\n"
           "  help                     this text\n"
           "\n"
           "  --json                   machine-readable output on stdout\n"
           "  --policy-dir DIR         read the policies from DIR instead of the shipped ones\n"
           "\n"
           "Exit status: 0 ok/clean/identical, 1 findings/errors/differences, 35 bad usage or unreadable policy.\n";
}

namespace {

constexpr int kUsage = 35;  // brig's exit status for invalid arguments (README "Exit codes")

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// show --jail-user UID[:GID], read as `brig run --jail-user` reads it: ids 1..2^32-2
// ((uid_t)-1 means "unchanged" to setresuid), the gid defaulting to the uid.
ShownIds parse_shown_ids(const std::string& where, std::string_view text) {
    try {
        const auto ids = sandbox::parse_jail_ids(text);
        return ShownIds{ids.uid, ids.gid};
    } catch (const std::invalid_argument& e) {
        throw UsageError(where + ": --jail-user: " + e.what());
    }
}

struct Args {
    std::string command;
    std::vector<std::string> positional;
    bool json = false;
    bool bpf = false;
    std::optional<std::filesystem::path> policy_dir;
    std::optional<std::filesystem::path> observed;
    std::optional<ShownIds> jail_user;  // show --jail-user: the maps with these ids
};

Args parse_args(const std::vector<std::string>& argv) {
    Args a;
    a.command = argv.empty() ? "help" : argv[0];
    static const std::set<std::string> commands = {"list", "show", "check", "audit", "diff", "help", "--help", "-h"};
    if (!commands.count(a.command)) {
        if (a.command.rfind("-", 0) == 0)
            throw UsageError("unknown flag '" + a.command + "' (a command comes first; see `brig policy help`)");
        throw UsageError("unknown command '" + a.command + "' (see `brig policy help`)");
    }
    if (a.command == "--help" || a.command == "-h") a.command = "help";
    const std::string where = "policy " + a.command;
    for (size_t i = 1; i < argv.size(); ++i) {
        std::string flag = argv[i];
        std::optional<std::string> inline_value;
        if (flag.rfind("--", 0) == 0) {
            if (auto eq = flag.find('='); eq != std::string::npos) {
                inline_value = flag.substr(eq + 1);
                flag = flag.substr(0, eq);
            }
        }
        auto value = [&]() -> std::string {
            if (inline_value) return *inline_value;
            if (i + 1 >= argv.size()) throw UsageError(where + ": " + flag + " needs a value");
            return argv[++i];
        };
        auto no_value = [&] {
            if (inline_value) throw UsageError(where + ": " + flag + " takes no value");
        };
        if (flag == "--json") {
            no_value();
            a.json = true;
        } else if (flag == "--policy-dir") {
            a.policy_dir = value();
        } else if (flag == "--bpf" && a.command == "show") {
            no_value();
            a.bpf = true;
        } else if (flag == "--jail-user" && a.command == "show") {
            a.jail_user = parse_shown_ids(where, value());
        } else if (flag == "--observed" && a.command == "audit") {
            a.observed = value();
        } else if (flag == "--help" || flag == "-h") {
            a.command = "help";
        } else if (flag.size() > 1 && flag[0] == '-') {
            throw UsageError(where + ": unknown flag '" + flag + "'");
        } else {
            a.positional.push_back(argv[i]);
        }
    }
    auto count = [&](size_t min, size_t max, const char* what) {
        if (a.positional.size() < min || a.positional.size() > max)
            throw UsageError(where + ": expected " + what +
                             (a.positional.size() > max ? ", got extra '" + a.positional[max] + "'" : ""));
    };
    if (a.command == "list" || a.command == "audit") count(0, 0, "no arguments");
    if (a.command == "show") count(1, 1, "one context name (see `brig policy list`)");
    if (a.command == "check") count(1, SIZE_MAX, "one or more policy files");
    if (a.command == "diff") count(2, 2, "OLD and NEW (files, directories or `builtin`)");
    return a;
}

std::filesystem::path policy_dir(const Args& a) { return a.policy_dir ? *a.policy_dir : find_policy_dir(); }

void print_json(std::ostream& out, const Json& j) { out << json_text(j) << "\n"; }

// ---------------------------------------------------------------- list

int cmd_list(const Args& a, std::ostream& out) {
    const auto dir = policy_dir(a);
    if (a.json) {
        Json root = Json::object();
        root["policy_dir"] = dir.string();
        Json list = Json::array();
        for (const auto& c : sandbox::sandbox_contexts()) {
            Json j = Json::object();
            j["name"] = c.name;
            j["kind"] = kind_name(c.kind);
            j["policy_file"] = c.policy_file;
            j["description"] = c.description;
            j["jail"] = jail_summary(c.jail);
            list.push_back(std::move(j));
        }
        root["contexts"] = std::move(list);
        print_json(out, root);
        return 0;
    }
    Table t({"NAME", "KIND", "POLICY", "JAIL"});
    for (const auto& c : sandbox::sandbox_contexts())
        t.add({c.name, kind_name(c.kind), c.policy_file, jail_summary(c.jail)});
    out << t.str() << "(policies in " << dir.string() << ")\n";
    return 0;
}

// ---------------------------------------------------------------- show

const sandbox::SandboxContext* find_context(const std::string& name) {
    for (const auto& c : sandbox::sandbox_contexts())
        if (c.name == name) return &c;
    return nullptr;
}

int cmd_show(const Args& a, std::ostream& out) {
    const std::string& name = a.positional[0];
    const sandbox::SandboxContext* ctx = find_context(name);
    std::filesystem::path file;
    std::filesystem::path base;
    if (ctx) {
        base = policy_dir(a);
        file = base / ctx->policy_file;
    } else if (name.find('/') != std::string::npos || (name.size() > 7 && name.ends_with(".policy"))) {
        file = name;
        base = file.parent_path();
    } else {
        std::string names;
        for (const auto& c : sandbox::sandbox_contexts()) names += (names.empty() ? "" : ", ") + c.name;
        throw UsageError("policy show: unknown context '" + name + "' (one of: " + names + "; or a policy file)");
    }
    auto policy = minijail::parse_policy_file(file);
    // What runs: a device's refused syscall waits for brig, which kills the device
    // (device_process.h); one of brig's own threads traps.
    const bool device = ctx && ctx->kind == sandbox::ContextKind::DeviceProcess;
    const auto action = device ? minijail::DefaultAction::UserNotif : minijail::DefaultAction::Trap;
    std::string pfc;
    size_t instructions = 0;
    if (a.bpf) {
        instructions = minijail::compile_policy(policy, action).size();
        pfc = minijail::export_pfc(policy, action);
    }

    if (a.json) {
        Json root = Json::object();
        root["name"] = ctx ? Json(ctx->name) : Json();
        root["kind"] = ctx ? Json(kind_name(ctx->kind)) : Json();
        root["description"] = ctx ? Json(ctx->description) : Json();
        root["policy_file"] = file.string();
        root["default_action"] = device ? "user-notif (brig kills the device)" : "trap";
        Json rules = Json::array();
        for (const auto& r : policy.rules) rules.push_back(rule_json(r, base));
        root["rules"] = std::move(rules);
        root["jail"] = ctx ? jail_json(*ctx, a.jail_user) : Json();
        if (a.bpf) {
            root["bpf_instructions"] = static_cast<int64_t>(instructions);
            root["pfc"] = pfc;
        }
        print_json(out, root);
        return 0;
    }
    if (ctx) out << ctx->name << ": " << kind_name(ctx->kind) << ", " << ctx->description << "\n";
    out << "policy: " << file.string() << " (@include resolved; anything else "
        << (device ? "waits for brig, which kills the device and names the syscall" : "traps") << ")\n\n";
    Table t({"SYSCALL", "ACTION", "SOURCE", "CONDITION"});
    for (const auto& r : policy.rules) {
        auto lines = condition_lines(r, ValueStyle::Both);
        t.add({r.name, render_action(r), render_source(r.location.file, r.location.line, base), lines[0]});
        for (size_t i = 1; i < lines.size(); ++i) t.add({"", "", "", lines[i]});
    }
    out << t.str("  ");
    if (ctx) {
        out << "\njail:\n";
        Table j;
        for (const auto& [label, value] : jail_lines(*ctx, a.jail_user)) j.add({label, value});
        out << j.str("  ");
    }
    if (a.bpf) {
        out << "\nseccomp filter: " << instructions << " BPF instructions (x86-64; libseccomp pseudo-filter code):\n"
            << pfc;
    }
    return 0;
}

// ---------------------------------------------------------------- check

int cmd_check(const Args& a, std::ostream& out, std::ostream& err) {
    int status = 0;
    Json results = Json::array();
    for (const auto& f : a.positional) {
        Json r = Json::object();
        r["file"] = f;
        try {
            auto policy = minijail::parse_policy_file(f);
            auto program = minijail::compile_policy(policy, minijail::DefaultAction::Trap);
            r["ok"] = true;
            r["syscalls"] = static_cast<int64_t>(policy.rules.size());
            r["bpf_instructions"] = static_cast<int64_t>(program.size());
            if (!a.json) out << f << ": ok (" << policy.rules.size() << " syscalls)\n";
        } catch (const minijail::PolicyError& e) {
            status = 1;
            r["ok"] = false;
            r["error"] = e.what();
            r["file_of_error"] = e.where().file.string();
            r["line"] = e.where().line;
            r["column"] = e.where().column;
            r["problem"] = e.problem();
            if (!a.json) err << e.what() << "\n";
        } catch (const std::exception& e) {
            status = 1;
            r["ok"] = false;
            r["error"] = f + ": " + e.what();
            if (!a.json) err << f << ": " << e.what() << "\n";
        }
        results.push_back(std::move(r));
    }
    if (a.json) {
        Json root = Json::object();
        root["ok"] = status == 0;
        root["files"] = std::move(results);
        print_json(out, root);
    }
    return status;
}

// ---------------------------------------------------------------- audit

int cmd_audit(const Args& a, std::ostream& out) {
    auto dir = policy_dir(a);
    if (!std::filesystem::is_directory(dir))
        throw UsageError("policy audit: --policy-dir: not a directory: " + dir.string());
    if (a.observed && !std::filesystem::is_directory(*a.observed))
        throw UsageError("policy audit: --observed: not a directory: " + a.observed->string());
    auto report = run_audit(sandbox::sandbox_contexts(), dir, a.observed);
    if (a.json) {
        Json j = audit_json(report);
        j["policy_dir"] = dir.string();
        print_json(out, j);
    } else {
        out << "policies in " << dir.string() << "\n\n" << audit_text(report);
    }
    return report.clean() ? 0 : 1;
}

// ---------------------------------------------------------------- diff

int cmd_diff(const Args& a, std::ostream& out) {
    auto resolve = [&](const std::string& p) -> std::filesystem::path {
        return p == "builtin" ? policy_dir(a) : std::filesystem::path(p);
    };
    DiffReport report;
    try {
        report = diff_policies(resolve(a.positional[0]), resolve(a.positional[1]));
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("policy diff: ") + e.what());
    }
    if (a.json)
        print_json(out, diff_json(report));
    else
        out << diff_text(report);
    return report.identical() ? 0 : 1;
}

}  // namespace

int run_policy_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    try {
        Args a = parse_args(args);
        if (a.command == "help") {
            out << policy_help();
            return 0;
        }
        if (a.command == "list") return cmd_list(a, out);
        if (a.command == "show") return cmd_show(a, out);
        if (a.command == "check") return cmd_check(a, out, err);
        if (a.command == "audit") return cmd_audit(a, out);
        if (a.command == "diff") return cmd_diff(a, out);
        throw UsageError("unknown command '" + a.command + "'");
    } catch (const UsageError& e) {
        err << "brig: " << e.what() << "\n";
        return kUsage;
    } catch (const minijail::PolicyError& e) {
        err << "brig: policy: " << e.what() << "\n";
        return kUsage;
    } catch (const std::exception& e) {  // unreadable files, no policy directory
        err << "brig: policy: " << e.what() << "\n";
        return kUsage;
    }
}

int run_policy_command(const std::vector<std::string>& args) {
    int status = run_policy_command(args, std::cout, std::cerr);
    std::cout.flush();
    return status;
}

}  // namespace brig
