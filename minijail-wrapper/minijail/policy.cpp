#include "minijail-wrapper/minijail/policy.h"

#include "minijail-wrapper/minijail/constants.h"
#include "base/error.h"
#include "base/unique_fd.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace minijail {

std::string SourceLocation::str() const {
    return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column);
}

PolicyError::PolicyError(SourceLocation where, const std::string& problem)
    : std::runtime_error(where.str() + ": " + problem), where_(std::move(where)), problem_(problem) {}

std::string_view to_string(CmpOp op) {
    switch (op) {
        case CmpOp::Eq:
            return "==";
        case CmpOp::Ne:
            return "!=";
        case CmpOp::Lt:
            return "<";
        case CmpOp::Le:
            return "<=";
        case CmpOp::Gt:
            return ">";
        case CmpOp::Ge:
            return ">=";
        case CmpOp::AnyBits:
            return "&";
        case CmpOp::In:
            return "in";
    }
    return "?";
}

const SyscallRule* Policy::find(std::string_view syscall) const {
    for (const auto& r : rules)
        if (r.name == syscall) return &r;
    return nullptr;
}

// ---------------------------------------------------------------- parsing

namespace {

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// One line of a policy file, with a cursor; columns are 1-based.
class LineParser {
public:
    LineParser(std::string_view text, const std::filesystem::path& file, int line)
        : s_(text), file_(file), line_(line) {}

    SourceLocation here() const { return at(pos_); }
    SourceLocation at(size_t pos) const { return {file_, line_, static_cast<int>(pos) + 1}; }
    [[noreturn]] void fail(size_t pos, const std::string& problem) const { throw PolicyError(at(pos), problem); }

    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
    }
    bool done() {
        skip_ws();
        return pos_ >= s_.size();
    }
    char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
    bool accept(std::string_view token) {
        skip_ws();
        if (s_.substr(pos_, token.size()) != token) return false;
        pos_ += token.size();
        return true;
    }
    // A word: letters, digits, underscore (may be empty).
    std::string_view word() {
        skip_ws();
        size_t start = pos_;
        while (pos_ < s_.size() && is_ident_char(s_[pos_])) ++pos_;
        return s_.substr(start, pos_ - start);
    }
    size_t pos() const { return pos_; }
    void set_pos(size_t p) { pos_ = p; }
    std::string_view rest() const { return s_.substr(pos_); }
    std::string_view slice(size_t from, size_t to) const { return s_.substr(from, to - from); }

private:
    std::string_view s_;
    const std::filesystem::path& file_;
    int line_;
    size_t pos_ = 0;
};

// term := '~' term | number | CONSTANT
uint64_t parse_term(LineParser& p) {
    p.skip_ws();
    if (p.accept("~")) return ~parse_term(p);
    size_t start = p.pos();
    std::string_view w = p.word();
    if (w.empty()) {
        if (p.peek() == '\0') p.fail(start, "expected a value");
        p.fail(start, std::string("expected a value, got '") + p.peek() + "'");
    }
    if (std::isdigit(static_cast<unsigned char>(w[0]))) {
        std::string text(w);
        errno = 0;
        char* end = nullptr;
        unsigned long long v = std::strtoull(text.c_str(), &end, 0);
        if (errno == ERANGE) p.fail(start, "number out of range: '" + text + "'");
        if (*end != '\0') p.fail(start, "bad number '" + text + "'");
        return v;
    }
    if (auto v = lookup_constant(w)) return *v;
    p.fail(start, "unknown constant '" + std::string(w) + "'");
}

// value := term ('|' term)*   (a '|' followed by '|' ends the value: that is '||')
uint64_t parse_value(LineParser& p) {
    uint64_t v = parse_term(p);
    for (;;) {
        p.skip_ws();
        if (p.peek() == '|' && p.peek(1) != '|') {
            p.accept("|");
            v |= parse_term(p);
        } else {
            return v;
        }
    }
}

Comparison parse_comparison(LineParser& p) {
    p.skip_ws();
    Comparison c;
    size_t start = p.pos();
    c.location = p.at(start);
    std::string_view w = p.word();
    if (w.size() < 4 || w.substr(0, 3) != "arg")
        p.fail(start, w.empty() ? std::string("expected 'argN'") : "expected 'argN', got '" + std::string(w) + "'");
    std::string_view index = w.substr(3);
    if (index.size() != 1 || index[0] < '0' || index[0] > '5')
        p.fail(start, "bad argument index in '" + std::string(w) + "': must be arg0 to arg5");
    c.arg = index[0] - '0';

    p.skip_ws();
    size_t op_pos = p.pos();
    static const std::pair<std::string_view, CmpOp> ops[] = {
        {"==", CmpOp::Eq}, {"!=", CmpOp::Ne}, {"<=", CmpOp::Le}, {">=", CmpOp::Ge}, {"<", CmpOp::Lt}, {">", CmpOp::Gt},
    };
    bool found = false;
    for (const auto& [text, op] : ops) {
        if (p.rest().substr(0, text.size()) == text) {
            p.set_pos(op_pos + text.size());
            c.op = op;
            found = true;
            break;
        }
    }
    if (!found) {
        if (p.peek() == '&' && p.peek(1) != '&') {
            p.set_pos(op_pos + 1);
            c.op = CmpOp::AnyBits;
        } else if (p.rest().substr(0, 2) == "in" && !is_ident_char(p.peek(2))) {
            p.set_pos(op_pos + 2);
            c.op = CmpOp::In;
        } else {
            size_t end = op_pos;
            std::string_view r = p.rest();
            while (end - op_pos < r.size() && r[end - op_pos] != ' ' && r[end - op_pos] != '\t') ++end;
            std::string bad(p.slice(op_pos, end));
            p.fail(op_pos, bad.empty() ? std::string("expected an operator (== != < <= > >= & in)")
                                       : "bad operator '" + bad + "' (expected == != < <= > >= & in)");
        }
    }
    p.skip_ws();
    size_t value_pos = p.pos();
    c.value = parse_value(p);
    std::string_view text = p.slice(value_pos, p.pos());
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    c.value_text = text;
    if (c.op == CmpOp::AnyBits && c.value == 0) p.fail(value_pos, "'& 0' can never hold");
    return c;
}

int parse_errno(LineParser& p) {
    p.skip_ws();
    size_t start = p.pos();
    std::string_view w = p.word();
    if (w.empty()) p.fail(start, "expected an errno name after 'return'");
    int e = 0;
    if (std::isdigit(static_cast<unsigned char>(w[0]))) {
        e = std::atoi(std::string(w).c_str());
    } else if (auto v = lookup_errno(w)) {
        e = *v;
    } else {
        p.fail(start, "unknown errno '" + std::string(w) + "'");
    }
    if (e < 1 || e > 4095) p.fail(start, "errno out of range: '" + std::string(w) + "'");
    return e;
}

class Parser {
public:
    // brig's largest policy is a few KiB; a megabyte is no policy anyone reviewed.
    static constexpr uintmax_t kMaxPolicyBytes = 1 << 20;

    Policy policy;

    [[noreturn]] static void refuse(const std::filesystem::path& file, const SourceLocation* included_from,
                                    const std::string& problem) {
        throw PolicyError(included_from ? *included_from : SourceLocation{file, 0, 0},
                          "'" + file.string() + "' " + problem);
    }

    void parse_file(const std::filesystem::path& file, const SourceLocation* included_from) {
        // A policy is a small regular file: a device (/dev/zero) would be read without
        // end, so anything else is refused before it is opened.
        std::error_code ec;
        const auto status = std::filesystem::status(file, ec);
        if (!ec && !std::filesystem::is_regular_file(status)) refuse(file, included_from, "is not a regular file");
        if (!ec && std::filesystem::file_size(file, ec) > kMaxPolicyBytes && !ec)
            refuse(file, included_from, "is larger than " + std::to_string(kMaxPolicyBytes) + " bytes");
        std::ifstream in(file);
        if (!in) {
            int err = errno;
            if (included_from)
                throw PolicyError(*included_from, "cannot read '" + file.string() + "': " + base::errno_text(err));
            base::throw_errno("open " + file.string(), err);
        }
        std::stringstream buffer;
        buffer << in.rdbuf();
        parse_text(buffer.str(), file, file.parent_path(), included_from);
    }

    void parse_text(const std::string& text, const std::filesystem::path& name, const std::filesystem::path& dir,
                    const SourceLocation* included_from) {
        std::error_code ec;
        auto canonical = std::filesystem::weakly_canonical(name, ec);
        if (ec) canonical = name;
        for (const auto& open : stack_) {
            if (open == canonical) {
                std::string chain;
                for (const auto& f : stack_) chain += f.filename().string() + " -> ";
                chain += canonical.filename().string();
                throw PolicyError(*included_from, "include loop: " + chain);
            }
        }
        stack_.push_back(canonical);
        int line_no = 0;
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            ++line_no;
            std::string_view line(text.data() + start, end - start);
            if (auto hash = line.find('#'); hash != std::string_view::npos) {
                std::string comment(line.substr(hash + 1));
                if (!comment.empty() && comment.back() == '\r') comment.pop_back();
                policy.comments.push_back({name, line_no, std::move(comment)});
                line = line.substr(0, hash);
            }
            parse_line(line, name, dir, line_no);
            start = end + 1;
        }
        stack_.pop_back();
    }

private:
    std::vector<std::filesystem::path> stack_;
    std::map<std::string, SourceLocation> seen_;

    void parse_line(std::string_view line, const std::filesystem::path& file, const std::filesystem::path& dir,
                    int line_no) {
        LineParser p(line, file, line_no);
        if (p.done()) return;
        size_t start = p.pos();
        if (p.peek() == '@') {
            p.set_pos(start + 1);
            std::string_view directive = p.word();
            if (directive != "include") p.fail(start, "unknown directive '@" + std::string(directive) + "'");
            p.skip_ws();
            std::string target(p.rest());
            while (!target.empty() && (target.back() == ' ' || target.back() == '\t' || target.back() == '\r'))
                target.pop_back();
            if (target.empty()) p.fail(p.pos(), "expected a file name after @include");
            std::filesystem::path path = target;
            if (path.is_relative()) path = dir / path;
            SourceLocation where = p.at(start);
            parse_file(path, &where);
            return;
        }
        std::string_view name = p.word();
        if (name.empty()) p.fail(start, std::string("expected a syscall name, got '") + p.peek() + "'");
        p.skip_ws();
        if (!p.accept(":")) {
            p.fail(p.pos(), "expected ':' after syscall name '" + std::string(name) + "'");
        }
        SyscallRule rule;
        rule.name = name;
        rule.location = p.at(start);
        rule.nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, rule.name.c_str());
        if (rule.nr == __NR_SCMP_ERROR || rule.nr < 0) p.fail(start, "unknown syscall '" + rule.name + "'");
        if (auto it = seen_.find(rule.name); it != seen_.end())
            p.fail(start, "duplicate entry for '" + rule.name + "' (first at " + it->second.str() + ")");

        p.skip_ws();
        size_t body = p.pos();
        if (p.done()) p.fail(body, "expected '1', 'return ERRNO' or an expression after ':'");
        std::string_view w = p.word();
        if (w == "1" && p.done()) {
            // allowed unconditionally
        } else if (w == "return") {
            rule.errno_value = parse_errno(p);
        } else {
            p.set_pos(body);
            rule.clauses.push_back({parse_comparison(p)});
            for (;;) {
                if (p.accept("&&")) {
                    rule.clauses.back().push_back(parse_comparison(p));
                } else if (p.accept("||")) {
                    rule.clauses.push_back({parse_comparison(p)});
                } else {
                    break;
                }
            }
            if (p.accept(";")) {
                size_t ret = p.pos();
                p.skip_ws();
                ret = p.pos();
                if (p.word() != "return") p.fail(ret, "expected 'return ERRNO' after ';'");
                rule.errno_value = parse_errno(p);
            }
        }
        if (!p.done()) {
            size_t pos = p.pos();
            p.fail(pos, "unexpected '" + std::string(p.rest()) + "'");
        }
        seen_.emplace(rule.name, rule.location);
        policy.rules.push_back(std::move(rule));
    }
};

}  // namespace

Policy parse_policy_file(const std::filesystem::path& file) {
    Parser parser;
    parser.policy.file = file;
    parser.parse_file(file, nullptr);
    return std::move(parser.policy);
}

Policy parse_policy_text(std::string_view text, const std::string& name, const std::filesystem::path& include_dir) {
    Parser parser;
    parser.policy.file = name;
    parser.parse_text(std::string(text), name, include_dir, nullptr);
    return std::move(parser.policy);
}

// ---------------------------------------------------------------- compiling

namespace {

struct SeccompCtx {
    scmp_filter_ctx ctx;
    ~SeccompCtx() { seccomp_release(ctx); }
};

// libseccomp has no per-syscall "else" action, so `expr; return E` is compiled like
// this: the filter's default action is this sentinel (an action no rule uses), and
// after export every `ret SENTINEL` becomes a jump to a tail that reloads the syscall
// number and returns E for those syscalls, or the real default for all others.
constexpr uint32_t kSentinel = SCMP_ACT_TRACE(0x6a11);

uint32_t default_ret(DefaultAction action, int default_errno) {
    switch (action) {
        case DefaultAction::Trap:
            return SCMP_ACT_TRAP;
        case DefaultAction::KillProcess:
            return SCMP_ACT_KILL_PROCESS;
        case DefaultAction::Log:
            return SCMP_ACT_LOG;
        case DefaultAction::Errno:
            return SCMP_ACT_ERRNO(static_cast<uint32_t>(default_errno));
        case DefaultAction::UserNotif:
            return SECCOMP_RET_USER_NOTIF;
    }
    return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_scmp(CmpOp op) {
    switch (op) {
        case CmpOp::Eq:
            return SCMP_CMP_EQ;
        case CmpOp::Ne:
            return SCMP_CMP_NE;
        case CmpOp::Lt:
            return SCMP_CMP_LT;
        case CmpOp::Le:
            return SCMP_CMP_LE;
        case CmpOp::Gt:
            return SCMP_CMP_GT;
        case CmpOp::Ge:
            return SCMP_CMP_GE;
        default:
            return SCMP_CMP_MASKED_EQ;
    }
}

// One clause becomes one or more libseccomp rules (ANDs of comparisons).
// `argN & BITS` ("any of BITS set") has no libseccomp operator: MASKED_EQ(BITS, x)
// tests equality under the mask, and seccomp BPF's JSET is not exposed. Since one
// rule is an AND and the rules of a syscall are ORed, the clause is expanded into
// one rule per bit, each with MASKED_EQ(bit, bit).
std::vector<std::vector<scmp_arg_cmp>> expand_clause(const SyscallRule& rule, const Clause& clause) {
    std::vector<std::vector<scmp_arg_cmp>> rules(1);
    bool used[6] = {};
    for (const auto& c : clause) {
        if (used[c.arg])
            throw PolicyError(c.location, "arg" + std::to_string(c.arg) + " is compared twice in one clause of '" +
                                              rule.name +
                                              "'; libseccomp allows one comparison per argument per rule "
                                              "(split it with '||' or drop one)");
        used[c.arg] = true;
        auto arg = static_cast<unsigned>(c.arg);
        if (c.op == CmpOp::AnyBits) {
            std::vector<std::vector<scmp_arg_cmp>> next;
            for (int bit = 0; bit < 64; ++bit) {
                uint64_t b = uint64_t{1} << bit;
                if (!(c.value & b)) continue;
                for (const auto& r : rules) {
                    next.push_back(r);
                    next.back().push_back(scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, b, b});
                }
            }
            rules = std::move(next);
            if (rules.size() > 256)
                throw PolicyError(c.location, "'&' expands to more than 256 rules for '" + rule.name + "'");
        } else if (c.op == CmpOp::In) {
            for (auto& r : rules) r.push_back(scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, ~c.value, 0});
        } else {
            for (auto& r : rules) r.push_back(scmp_arg_cmp{arg, to_scmp(c.op), c.value, 0});
        }
    }
    return rules;
}

void add_rule(scmp_filter_ctx ctx, const SyscallRule& rule, uint32_t action, const std::vector<scmp_arg_cmp>& args,
              const SourceLocation& where) {
    int rc = seccomp_rule_add_array(ctx, action, rule.nr, static_cast<unsigned>(args.size()),
                                    args.empty() ? nullptr : args.data());
    if (rc < 0)
        throw PolicyError(where, "libseccomp refused the rule for '" + rule.name + "': " + base::errno_text(-rc));
}

// Adds every rule of the policy to a context whose default action is kSentinel.
// Returns (syscall nr, errno) for each `expr; return E` rule, for the tail.
std::vector<std::pair<int, int>> add_policy_rules(scmp_filter_ctx ctx, const Policy& policy) {
    std::vector<std::pair<int, int>> else_errno;
    for (const auto& rule : policy.rules) {
        if (rule.clauses.empty()) {
            uint32_t action =
                rule.errno_value ? SCMP_ACT_ERRNO(static_cast<uint32_t>(*rule.errno_value)) : SCMP_ACT_ALLOW;
            add_rule(ctx, rule, action, {}, rule.location);
            continue;
        }
        for (const auto& clause : rule.clauses)
            for (const auto& args : expand_clause(rule, clause))
                add_rule(ctx, rule, SCMP_ACT_ALLOW, args, clause.front().location);
        if (rule.errno_value) else_errno.emplace_back(rule.nr, *rule.errno_value);
    }
    return else_errno;
}

void check_default_errno(DefaultAction action, int default_errno, const char* caller) {
    if (action == DefaultAction::Errno && (default_errno < 1 || default_errno > 4095))
        throw std::invalid_argument(std::string(caller) + ": default errno out of range");
}

// The policy's rules in a libseccomp context whose default is the sentinel, and the
// `expr; return E` fallbacks the tail must answer.
struct RuleContext {
    SeccompCtx ctx;
    std::vector<std::pair<int, int>> else_errno;
};

RuleContext build_rule_context(const Policy& policy) {
    RuleContext rules{{seccomp_init(kSentinel)}, {}};
    if (!rules.ctx.ctx) throw std::runtime_error("seccomp_init failed");
    if (int rc = seccomp_attr_set(rules.ctx.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
        base::throw_errno("seccomp_attr_set(ACT_BADARCH)", -rc);
    rules.else_errno = add_policy_rules(rules.ctx.ctx, policy);
    return rules;
}

// libseccomp exports only to an fd: export into a memfd and read it back.
std::string export_to_string(int (*exporter)(const scmp_filter_ctx, int), scmp_filter_ctx ctx, const char* what) {
    const base::UniqueFd mem(memfd_create(what, MFD_CLOEXEC));
    if (!mem) base::throw_errno("memfd_create");
    if (int rc = exporter(ctx, mem.get()); rc < 0) base::throw_errno(what, -rc);
    const off_t size = lseek(mem.get(), 0, SEEK_END);
    if (size < 0) base::throw_errno("lseek");
    std::string bytes(static_cast<size_t>(size), '\0');
    if (pread(mem.get(), bytes.data(), bytes.size(), 0) != size) base::throw_errno("pread");
    return bytes;
}

std::string pfc_action(DefaultAction action, int default_errno) {
    switch (action) {
        case DefaultAction::Trap:
            return "TRAP";
        case DefaultAction::KillProcess:
            return "KILL_PROCESS";
        case DefaultAction::Log:
            return "LOG";
        case DefaultAction::Errno:
            return "ERRNO(" + std::to_string(default_errno) + ")";
        case DefaultAction::UserNotif:
            return "NOTIFY";
    }
    return "KILL_PROCESS";
}

}  // namespace

std::string export_pfc(const Policy& policy, DefaultAction default_action, int default_errno) {
    check_default_errno(default_action, default_errno, "export_pfc");
    const RuleContext rules = build_rule_context(policy);
    const auto& else_errno = rules.else_errno;
    std::string text = export_to_string(seccomp_export_pfc, rules.ctx.ctx, "seccomp_export_pfc");

    // libseccomp prints the sentinel as TRACE(n); compile_policy() turns each of those
    // returns into a jump to its tail, so say that, and print the tail.
    const std::string sentinel = "TRACE(" + std::to_string(kSentinel & SECCOMP_RET_DATA) + ")";
    const std::string to_tail = "GOTO_TAIL";
    for (size_t pos = 0; (pos = text.find(sentinel, pos)) != std::string::npos; pos += to_tail.size())
        text.replace(pos, sentinel.size(), to_tail);
    text += "# tail (GOTO_TAIL): `expr; return E` rules whose expression did not hold, then the default\n";
    for (const auto& [nr, e] : else_errno)
        text += "if ($syscall == " + std::to_string(nr) + ")  # " + syscall_name(nr) + "\n  action ERRNO(" +
                std::to_string(e) + ");\n";
    text += "action " + pfc_action(default_action, default_errno) + ";\n";
    return text;
}

std::vector<sock_filter> compile_policy(const Policy& policy, DefaultAction default_action, int default_errno) {
    check_default_errno(default_action, default_errno, "compile_policy");
    const RuleContext rules = build_rule_context(policy);
    const auto& else_errno = rules.else_errno;
    const std::string bytes = export_to_string(seccomp_export_bpf, rules.ctx.ctx, "seccomp_export_bpf");
    if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0)
        throw std::runtime_error("seccomp_export_bpf: unexpected size " + std::to_string(bytes.size()));
    std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
    std::memcpy(program.data(), bytes.data(), bytes.size());

    // Redirect the sentinel returns to the tail (all jumps forward, so no offsets move).
    const auto tail = static_cast<uint32_t>(program.size());
    int patched = 0;
    for (uint32_t i = 0; i < tail; ++i) {
        if (program[i].code == (BPF_RET | BPF_K) && program[i].k == kSentinel) {
            program[i] = BPF_STMT(BPF_JMP | BPF_JA, tail - (i + 1));
            ++patched;
        }
    }
    if (patched == 0) throw std::runtime_error("compile_policy: libseccomp output has no default return");
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    for (const auto& [nr, e] : else_errno) {
        program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
        program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<uint32_t>(e) & SECCOMP_RET_DATA)));
    }
    program.push_back(BPF_STMT(BPF_RET | BPF_K, default_ret(default_action, default_errno)));
    if (program.size() > BPF_MAXINSNS)
        throw std::runtime_error("compile_policy: " + policy.file.string() + " needs " +
                                 std::to_string(program.size()) +
                                 " BPF instructions, more than the kernel's limit of " + std::to_string(BPF_MAXINSNS));
    return program;
}

namespace {

// NO_NEW_PRIVS, then seccomp(SET_MODE_FILTER, flags); returns what the syscall returned.
long load_filter(const std::vector<sock_filter>& program, unsigned long flags, const char* what) {
    if (program.empty() || program.size() > BPF_MAXINSNS)
        throw std::invalid_argument(std::string(what) + ": bad program size");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) base::throw_errno("prctl(PR_SET_NO_NEW_PRIVS)");
    sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

}  // namespace

void install_filter(const std::vector<sock_filter>& program, bool tsync) {
    const long rc = load_filter(program, tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0, "install_filter");
    if (rc < 0) base::throw_errno(tsync ? "seccomp(SET_MODE_FILTER, TSYNC)" : "seccomp(SET_MODE_FILTER)");
    if (rc > 0)
        throw std::runtime_error("seccomp(SET_MODE_FILTER, TSYNC): thread " + std::to_string(rc) +
                                 " could not be synchronized");
}

int install_filter_with_listener(const std::vector<sock_filter>& program, bool tsync) {
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (tsync) flags |= SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    const long rc = load_filter(program, flags, "install_filter_with_listener");
    if (rc < 0)
        base::throw_errno(tsync ? "seccomp(SET_MODE_FILTER, NEW_LISTENER|TSYNC)"
                                : "seccomp(SET_MODE_FILTER, NEW_LISTENER)");
    return static_cast<int>(rc);  // the listener fd, opened O_CLOEXEC by the kernel
}

int syscall_number(std::string_view name) {
    const int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, std::string(name).c_str());
    return nr == __NR_SCMP_ERROR ? -1 : nr;
}

std::string syscall_name(int nr) {
    std::unique_ptr<char, decltype(&free)> name(seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr), &free);
    return name ? std::string(name.get()) : "syscall_" + std::to_string(nr);
}

}  // namespace minijail
