#include "policy-tool/diff.h"

#include <map>
#include <set>
#include <stdexcept>

#include "policy-tool/render.h"
#include "ipc/sandbox/profiles.h"

namespace brig::policy_tool {

bool DiffReport::identical() const {
    for (const auto& f : files)
        if (f.status != FileDiff::Status::Same) return false;
    return true;
}

namespace {

// The same filter, whatever the spelling and wherever the rule is.
bool same_rule(const minijail::SyscallRule& a, const minijail::SyscallRule& b) {
    if (a.errno_value != b.errno_value || a.clauses.size() != b.clauses.size()) return false;
    for (size_t i = 0; i < a.clauses.size(); ++i) {
        if (a.clauses[i].size() != b.clauses[i].size()) return false;
        for (size_t j = 0; j < a.clauses[i].size(); ++j) {
            const auto &x = a.clauses[i][j], &y = b.clauses[i][j];
            if (x.arg != y.arg || x.op != y.op || x.value != y.value) return false;
        }
    }
    return true;
}

const sandbox::SandboxContext* context_for(const std::string& file_name) {
    for (const auto& c : sandbox::sandbox_contexts())
        if (c.policy_file == file_name) return &c;
    return nullptr;
}

// Rated as the context using the file; an unknown file as a device (the stricter rules).
sandbox::ContextKind kind_for(const std::string& file_name) {
    const auto* c = context_for(file_name);
    if (c) return c->kind;
    return file_name.rfind("brig_", 0) == 0 ? sandbox::ContextKind::VmmThread : sandbox::ContextKind::DeviceProcess;
}

// `file_name` (a bare file name) says which context uses the file, and so how to rate it.
FileDiff diff_file(const std::string& name, const std::string& file_name,
                   const std::optional<std::filesystem::path>& old_file,
                   const std::optional<std::filesystem::path>& new_file) {
    FileDiff d;
    d.name = name;
    const auto* ctx = context_for(file_name);
    d.context = ctx ? ctx->name : "";
    auto kind = kind_for(file_name);
    if (!old_file || !new_file) {
        d.status = old_file ? FileDiff::Status::OnlyOld : FileDiff::Status::OnlyNew;
        auto policy = minijail::parse_policy_file(old_file ? *old_file : *new_file);
        for (const auto& r : policy.rules) {
            RuleDiff rd;
            rd.syscall = r.name;
            (old_file ? rd.old_rule : rd.new_rule) = r;
            (old_file ? rd.old_risk : rd.new_risk) = assess_rule(r, kind).risk;
            (old_file ? d.removed : d.added).push_back(std::move(rd));
        }
        return d;
    }
    auto old_policy = minijail::parse_policy_file(*old_file);
    auto new_policy = minijail::parse_policy_file(*new_file);
    for (const auto& r : new_policy.rules) {
        const auto* o = old_policy.find(r.name);
        RuleDiff rd;
        rd.syscall = r.name;
        rd.new_rule = r;
        rd.new_risk = assess_rule(r, kind).risk;
        if (!o) {
            d.added.push_back(std::move(rd));
        } else if (!same_rule(*o, r)) {
            rd.old_rule = *o;
            rd.old_risk = assess_rule(*o, kind).risk;
            d.changed.push_back(std::move(rd));
        }
    }
    for (const auto& r : old_policy.rules) {
        if (new_policy.find(r.name)) continue;
        RuleDiff rd;
        rd.syscall = r.name;
        rd.old_rule = r;
        rd.old_risk = assess_rule(r, kind).risk;
        d.removed.push_back(std::move(rd));
    }
    if (!d.added.empty() || !d.removed.empty() || !d.changed.empty()) d.status = FileDiff::Status::Changed;
    return d;
}

std::set<std::string> policy_files(const std::filesystem::path& dir) {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".policy" && !e.is_directory()) names.insert(e.path().filename().string());
    return names;
}

std::string rule_text(const minijail::SyscallRule& r) {
    std::string s = render_action(r);
    std::string cond = render_condition(r, ValueStyle::Both);
    return cond.empty() ? s : s + " " + cond;
}

}  // namespace

DiffReport diff_policies(const std::filesystem::path& old_path, const std::filesystem::path& new_path) {
    namespace fs = std::filesystem;
    DiffReport report;
    bool old_dir = fs::is_directory(old_path), new_dir = fs::is_directory(new_path);
    for (const auto& p : {old_path, new_path})
        if (!fs::exists(p)) throw std::invalid_argument("no such file or directory: " + p.string());
    if (old_dir != new_dir)
        throw std::invalid_argument("cannot compare a directory with a file: give two files or two directories");
    if (!old_dir) {
        const std::string file_name = new_path.filename().string();
        const std::string name =
            old_path.filename() == new_path.filename() ? file_name : old_path.string() + " -> " + new_path.string();
        report.files.push_back(diff_file(name, file_name, old_path, new_path));
        return report;
    }
    auto old_names = policy_files(old_path), new_names = policy_files(new_path);
    std::set<std::string> all = old_names;
    all.insert(new_names.begin(), new_names.end());
    for (const auto& name : all) {
        std::optional<fs::path> o, n;
        if (old_names.count(name)) o = old_path / name;
        if (new_names.count(name)) n = new_path / name;
        report.files.push_back(diff_file(name, name, o, n));
    }
    return report;
}

std::string diff_text(const DiffReport& report) {
    std::string out;
    int same = 0;
    for (const auto& f : report.files) {
        if (f.status == FileDiff::Status::Same) {
            ++same;
            continue;
        }
        out += f.name;
        if (!f.context.empty()) out += " (" + f.context + ")";
        if (f.status == FileDiff::Status::OnlyOld) out += ": only in OLD";
        if (f.status == FileDiff::Status::OnlyNew) out += ": only in NEW";
        out += "\n";
        Table t;
        for (const auto& a : f.added)
            t.add({"+ " + a.syscall, rule_text(*a.new_rule), "risk " + std::string(to_string(*a.new_risk))});
        for (const auto& r : f.removed)
            t.add({"- " + r.syscall, rule_text(*r.old_rule), "risk " + std::string(to_string(*r.old_risk))});
        for (const auto& c : f.changed) {
            std::string risk = c.old_risk == c.new_risk ? "risk " + std::string(to_string(*c.new_risk))
                                                        : "risk " + std::string(to_string(*c.old_risk)) + " -> " +
                                                              std::string(to_string(*c.new_risk));
            t.add({"~ " + c.syscall, "was: " + rule_text(*c.old_rule), risk});
            t.add({"", "now: " + rule_text(*c.new_rule), ""});
        }
        out += t.str("  ");
    }
    if (report.identical())
        out += "identical (" + std::to_string(same) + " file" + (same == 1 ? "" : "s") + ")\n";
    else if (same)
        out += std::to_string(same) + " other file" + (same == 1 ? "" : "s") + " identical\n";
    return out;
}

Json diff_json(const DiffReport& report) {
    Json root = Json::object();
    root["identical"] = report.identical();
    Json files = Json::array();
    auto rule = [](const minijail::SyscallRule& r, Risk risk) {
        Json j = Json::object();
        j["action"] = render_action(r);
        j["condition"] = render_condition(r, ValueStyle::Written);
        j["condition_hex"] = render_condition(r, ValueStyle::Hex);
        j["risk"] = std::string(to_string(risk));
        return j;
    };
    for (const auto& f : report.files) {
        Json fj = Json::object();
        fj["file"] = f.name;
        fj["context"] = f.context.empty() ? Json() : Json(f.context);
        const char* status = f.status == FileDiff::Status::Same      ? "identical"
                             : f.status == FileDiff::Status::Changed ? "changed"
                             : f.status == FileDiff::Status::OnlyOld ? "only_old"
                                                                     : "only_new";
        fj["status"] = status;
        Json added = Json::array(), removed = Json::array(), changed = Json::array();
        for (const auto& a : f.added) {
            Json j = rule(*a.new_rule, *a.new_risk);
            j["syscall"] = a.syscall;
            added.push_back(std::move(j));
        }
        for (const auto& r : f.removed) {
            Json j = rule(*r.old_rule, *r.old_risk);
            j["syscall"] = r.syscall;
            removed.push_back(std::move(j));
        }
        for (const auto& c : f.changed) {
            Json j = Json::object();
            j["syscall"] = c.syscall;
            j["old"] = rule(*c.old_rule, *c.old_risk);
            j["new"] = rule(*c.new_rule, *c.new_risk);
            j["risk_changed"] = c.old_risk != c.new_risk;
            changed.push_back(std::move(j));
        }
        fj["added"] = std::move(added);
        fj["removed"] = std::move(removed);
        fj["changed"] = std::move(changed);
        files.push_back(std::move(fj));
    }
    root["files"] = std::move(files);
    return root;
}

}  // namespace brig::policy_tool
