#include "policy-tool/audit.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "policy-tool/render.h"

namespace brig::policy_tool {

namespace {

std::string trim(std::string s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!s.empty() && space(s.back())) s.pop_back();
    size_t i = 0;
    while (i < s.size() && space(s[i])) ++i;
    return s.substr(i);
}

bool key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }

}  // namespace

std::optional<Justification> parse_justification(const std::string& comment_text, bool* malformed) {
    if (malformed) *malformed = false;
    static const std::string tag = "audit-allow:";
    std::string s = trim(comment_text);
    if (s.rfind(tag, 0) != 0) return std::nullopt;
    s = trim(s.substr(tag.size()));
    size_t end = 0;
    while (end < s.size() && key_char(s[end])) ++end;
    Justification j;
    j.key = s.substr(0, end);
    std::string rest = trim(s.substr(end));
    static const std::string em_dash = "\u2014";
    if (rest.rfind(em_dash, 0) == 0) {
        rest = rest.substr(em_dash.size());
    } else if (!rest.empty() && rest[0] == '-') {
        rest = rest.substr(rest.rfind("--", 0) == 0 ? 2 : 1);
    } else {
        rest.clear();  // no separator: no reason
    }
    j.reason = trim(rest);
    if (j.key.empty() || j.reason.empty()) {
        if (malformed) *malformed = true;
        return std::nullopt;
    }
    return j;
}

int ContextAudit::findings() const {
    int n = error.empty() ? 0 : 1;
    for (const auto& a : allowances) n += a.finding;
    for (const auto& j : jail) n += j.finding;
    return n;
}

int AuditReport::findings() const {
    int n = 0;
    for (const auto& c : contexts) n += c.findings();
    return n;
}

namespace {

ContextAudit audit_context(const sandbox::SandboxContext& context, const std::filesystem::path& dir,
                           const std::optional<std::filesystem::path>& observed_dir) {
    ContextAudit out;
    out.context = &context;
    out.policy_path = dir / context.policy_file;
    minijail::Policy policy;
    try {
        policy = minijail::parse_policy_file(out.policy_path);
    } catch (const std::exception& e) {
        out.error = e.what();
        return out;
    }

    std::vector<Justification> justifications;
    for (const auto& c : policy.comments) {
        bool malformed = false;
        auto j = parse_justification(c.text, &malformed);
        std::string where = render_source(c.file, c.line, dir);
        if (malformed)
            out.notes.push_back(
                where + ": audit-allow comment without a key or a reason (`# audit-allow: SYSCALL - reason`): ignored");
        if (!j) continue;
        j->source = where;
        justifications.push_back(std::move(*j));
    }
    std::set<std::string> used_keys;
    auto justify = [&](const std::string& key) -> std::optional<Justification> {
        for (const auto& j : justifications)
            if (j.key == key) {
                used_keys.insert(key);
                return j;
            }
        return std::nullopt;
    };

    for (const auto& rule : policy.rules) {
        AllowanceAudit a;
        a.rule = rule;
        a.assessment = assess_rule(rule, context.kind);
        a.source = render_source(rule.location.file, rule.location.line, dir);
        if (a.assessment.risk == Risk::High) {
            a.justification = justify(rule.name);
            a.finding = !a.justification;
        }
        out.allowances.push_back(std::move(a));
    }
    for (auto& check : check_jail(context)) {
        JailAudit j;
        j.check = check;
        if (!check.ok && check.risk == Risk::High) {
            j.justification = justify(check.key);
            j.finding = !j.justification;
        }
        out.jail.push_back(std::move(j));
    }
    for (const auto& j : justifications)
        if (!used_keys.count(j.key))
            out.notes.push_back(j.source + ": audit-allow for '" + j.key +
                                "' justifies nothing high-risk here (stale?)");

    if (observed_dir) {
        auto path = *observed_dir / context.policy_file;
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            out.notes.push_back("observed: no " + context.policy_file + " in " + observed_dir->string() +
                                " (this context did not run)");
        } else {
            try {
                auto seen = minijail::parse_policy_file(path);
                out.observed = true;
                for (auto& a : out.allowances) {
                    bool denial = a.rule.clauses.empty() && a.rule.errno_value;
                    a.unused_in_observed = !denial && !seen.find(a.rule.name);
                }
                for (const auto& r : seen.rules)
                    if (!policy.find(r.name)) out.observed_not_allowed.push_back(r.name);
            } catch (const std::exception& e) {
                out.notes.push_back(std::string("observed: cannot read ") + path.string() + ": " + e.what());
            }
        }
    }
    return out;
}

}  // namespace

AuditReport run_audit(const std::vector<sandbox::SandboxContext>& contexts, const std::filesystem::path& policy_dir,
                      const std::optional<std::filesystem::path>& observed_dir) {
    AuditReport report;
    for (const auto& c : contexts) report.contexts.push_back(audit_context(c, policy_dir, observed_dir));
    return report;
}

namespace {

// High first, then medium, then low; file order within a level.
std::vector<const AllowanceAudit*> by_risk(const ContextAudit& c) {
    std::vector<const AllowanceAudit*> out;
    for (const auto& a : c.allowances) out.push_back(&a);
    std::stable_sort(out.begin(), out.end(), [](auto* x, auto* y) { return x->assessment.risk > y->assessment.risk; });
    return out;
}

std::string note_for(const AllowanceAudit& a) {
    std::string note;
    if (a.finding)
        note = "FINDING: " + a.assessment.why + " (no `# audit-allow: " + a.rule.name + " - reason`)";
    else if (a.justification)
        note = "justified at " + a.justification->source + ": " + a.justification->reason;
    else
        note = a.assessment.why;
    if (a.unused_in_observed) note += note.empty() ? "unused in observed runs" : "; unused in observed runs";
    return note;
}

}  // namespace

std::string audit_text(const AuditReport& report) {
    std::string out;
    int high_justified = 0, medium = 0;
    for (const auto& c : report.contexts) {
        const auto& ctx = *c.context;
        out += ctx.name + " (" + kind_name(ctx.kind) + ", " + ctx.policy_file + ")";
        out += c.findings() ? ": " + std::to_string(c.findings()) + " finding" + (c.findings() == 1 ? "" : "s") + "\n"
                            : ": clean\n";
        if (!c.error.empty()) {
            out += "  FINDING: policy unreadable: " + c.error + "\n\n";
            continue;
        }
        Table t({"RISK", "SYSCALL", "ACTION", "SOURCE", "CONDITION", "NOTE"});
        for (const auto* a : by_risk(c)) {
            auto lines = condition_lines(a->rule, ValueStyle::Written);
            t.add({std::string(to_string(a->assessment.risk)), a->rule.name, render_action(a->rule), a->source,
                   lines[0], note_for(*a)});
            for (size_t i = 1; i < lines.size(); ++i) t.add({"", "", "", "", lines[i], ""});
            if (a->assessment.risk == Risk::High && a->justification) ++high_justified;
            if (a->assessment.risk == Risk::Medium) ++medium;
        }
        out += t.str("  ");
        if (!c.jail.empty()) {
            Table j({"JAIL", "STATUS", "DETAIL"});
            for (const auto& ja : c.jail) {
                std::string status = ja.check.ok ? "ok" : std::string(to_string(ja.check.risk));
                std::string detail = ja.check.detail;
                if (ja.finding)
                    detail = "FINDING: " + detail;
                else if (ja.justification)
                    detail += " (justified at " + ja.justification->source + ": " + ja.justification->reason + ")";
                j.add({ja.check.item, status, detail});
            }
            out += "\n" + j.str("  ");
        } else {
            out += "\n  jail: none of its own (a thread of brig)\n";
        }
        if (c.observed) {
            std::string unused;
            for (const auto& a : c.allowances)
                if (a.unused_in_observed) unused += (unused.empty() ? "" : " ") + a.rule.name;
            out += "\n  unused in observed runs: candidates for removal: " + (unused.empty() ? "none" : unused) + "\n";
            if (!c.observed_not_allowed.empty()) {
                std::string list;
                for (const auto& s : c.observed_not_allowed) list += (list.empty() ? "" : " ") + s;
                out += "  used in observed runs but not allowed here: " + list + "\n";
            }
        }
        for (const auto& n : c.notes) out += "  note: " + n + "\n";
        out += "\n";
    }
    int findings = report.findings();
    out += "audit: " + std::to_string(report.contexts.size()) + " contexts, " + std::to_string(findings) + " finding" +
           (findings == 1 ? "" : "s") + ", " + std::to_string(high_justified) + " justified high-risk allowance" +
           (high_justified == 1 ? "" : "s") + ", " + std::to_string(medium) +
           " medium: " + (findings ? "NOT clean" : "clean") + "\n";
    return out;
}

Json audit_json(const AuditReport& report) {
    Json root = Json::object();
    root["clean"] = report.clean();
    root["findings"] = report.findings();
    Json contexts = Json::array();
    for (const auto& c : report.contexts) {
        Json cj = Json::object();
        cj["name"] = c.context->name;
        cj["kind"] = kind_name(c.context->kind);
        cj["policy_file"] = c.context->policy_file;
        cj["findings"] = c.findings();
        cj["error"] = c.error.empty() ? Json() : Json(c.error);
        Json allowances = Json::array();
        for (const auto* a : by_risk(c)) {
            Json aj = Json::object();
            aj["syscall"] = a->rule.name;
            aj["risk"] = std::string(to_string(a->assessment.risk));
            aj["why"] = a->assessment.why;
            aj["action"] = render_action(a->rule);
            aj["condition"] = render_condition(a->rule, ValueStyle::Written);
            aj["condition_hex"] = render_condition(a->rule, ValueStyle::Hex);
            aj["source"] = a->source;
            aj["finding"] = a->finding;
            aj["justification"] = a->justification ? Json(a->justification->reason) : Json();
            aj["justified_at"] = a->justification ? Json(a->justification->source) : Json();
            if (c.observed) aj["unused_in_observed"] = a->unused_in_observed;
            allowances.push_back(std::move(aj));
        }
        cj["allowances"] = std::move(allowances);
        Json jail = Json::array();
        for (const auto& ja : c.jail) {
            Json jj = Json::object();
            jj["key"] = ja.check.key;
            jj["item"] = ja.check.item;
            jj["ok"] = ja.check.ok;
            jj["risk"] = ja.check.ok ? Json() : Json(std::string(to_string(ja.check.risk)));
            jj["detail"] = ja.check.detail;
            jj["finding"] = ja.finding;
            jj["justification"] = ja.justification ? Json(ja.justification->reason) : Json();
            jail.push_back(std::move(jj));
        }
        cj["jail"] = std::move(jail);
        if (c.observed) {
            Json unused = Json::array();
            for (const auto& a : c.allowances)
                if (a.unused_in_observed) unused.push_back(a.rule.name);
            cj["unused_in_observed"] = std::move(unused);
            Json extra = Json::array();
            for (const auto& s : c.observed_not_allowed) extra.push_back(s);
            cj["observed_not_allowed"] = std::move(extra);
        }
        Json notes = Json::array();
        for (const auto& n : c.notes) notes.push_back(n);
        cj["notes"] = std::move(notes);
        contexts.push_back(std::move(cj));
    }
    root["contexts"] = std::move(contexts);
    return root;
}

}  // namespace brig::policy_tool
