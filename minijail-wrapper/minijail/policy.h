// Seccomp policies in minijail0(5) syntax, compiled to BPF with libseccomp.
//
//   # comment
//   @include common.policy            (relative to the including file's directory)
//   read: 1                           allowed unconditionally
//   mmap: arg2 in ~PROT_EXEC && arg3 & MAP_SHARED || arg4 == -1
//   open: return ENOENT               always fails with that errno
//   ioctl: arg1 == TCGETS; return ENOTTY   allowed when the expression holds, else ENOTTY
//
// Comparisons are `argN OP VALUE` with N in 0..5 and OP one of == != < <= > >= & in.
// `argN in MASK` holds when argN has no bit outside MASK; `argN & BITS` holds when
// any of BITS is set. VALUE is a number (decimal, 0x hex, 0 octal), a named constant
// (constants.h), `~VALUE`, or VALUE|VALUE. Arguments compare as full 64-bit values.
#pragma once

#include <linux/filter.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace minijail {

struct SourceLocation {
    std::filesystem::path file;
    int line = 0;
    int column = 0;
    std::string str() const;  // "file:line:column"
};

// what() is "file:line:column: problem".
class PolicyError : public std::runtime_error {
public:
    PolicyError(SourceLocation where, const std::string& problem);
    const SourceLocation& where() const { return where_; }
    const std::string& problem() const { return problem_; }

private:
    SourceLocation where_;
    std::string problem_;
};

enum class CmpOp { Eq, Ne, Lt, Le, Gt, Ge, AnyBits /* & */, In };
std::string_view to_string(CmpOp op);

struct Comparison {
    int arg = 0;  // 0..5
    CmpOp op = CmpOp::Eq;
    uint64_t value = 0;
    std::string value_text;   // as written, e.g. "O_RDONLY|O_CLOEXEC"
    SourceLocation location;  // of the "argN"
};

using Clause = std::vector<Comparison>;  // AND of comparisons

struct SyscallRule {
    std::string name;
    int nr = -1;
    SourceLocation location;      // of the syscall name
    std::vector<Clause> clauses;  // OR of clauses; empty means no condition
    // `return E`: without clauses the call always fails with E; with clauses it fails
    // with E when no clause holds (instead of the filter's default action).
    std::optional<int> errno_value;

    bool allows_unconditionally() const { return clauses.empty() && !errno_value; }
};

// A comment in a policy file: the text after '#' (up to the end of the line), and
// where it is. The parser keeps them so tools can read annotations; it gives them
// no meaning itself.
struct Comment {
    std::filesystem::path file;
    int line = 0;
    std::string text;
};

struct Policy {
    std::filesystem::path file;      // the top-level file
    std::vector<SyscallRule> rules;  // in file order, includes expanded in place
    std::vector<Comment> comments;   // every comment, in file order, includes expanded in place

    const SyscallRule* find(std::string_view syscall) const;
};

// Parses a policy file; @include is resolved relative to the including file.
// Throws PolicyError ("file:line:col: ...") or base::SystemError (unreadable file).
Policy parse_policy_file(const std::filesystem::path& file);

// Parses policy text held in memory; `name` is used in error locations and
// @include paths are resolved relative to `include_dir`.
Policy parse_policy_text(std::string_view text, const std::string& name = "<policy>",
                         const std::filesystem::path& include_dir = ".");

enum class DefaultAction {
    Trap,  // SIGSYS; kills the process when it has no handler (the normal choice)
    KillProcess,
    Log,        // allow, but log to the audit log (for developing a policy)
    Errno,      // fail with default_errno
    UserNotif,  // SECCOMP_RET_USER_NOTIF: the listener (install_filter_with_listener) decides
};

// Compiles to a BPF program for x86-64 (any other architecture kills the process).
// Throws PolicyError for a rule libseccomp cannot express.
std::vector<sock_filter> compile_policy(const Policy& policy, DefaultAction default_action, int default_errno = EPERM);

// The filter compile_policy() builds, as libseccomp's pseudo-filter code
// (seccomp_export_pfc), for people to read. `expr; return E` rules show as a tail
// after libseccomp's output, as compile_policy() appends it. Throws like compile_policy().
std::string export_pfc(const Policy& policy, DefaultAction default_action, int default_errno = EPERM);

// Sets PR_SET_NO_NEW_PRIVS, then installs the program on the calling thread, or on
// every thread of the process with tsync. Throws base::SystemError.
void install_filter(const std::vector<sock_filter>& program, bool tsync);

// Like install_filter, but with SECCOMP_FILTER_FLAG_NEW_LISTENER: returns the
// seccomp user-notification listener fd (close-on-exec) that answers the program's
// SECCOMP_RET_USER_NOTIF returns. With tsync, TSYNC_ESRCH makes the two flags
// combinable (kernel >= 5.7). Once this returns, every syscall the filter sends to
// the listener blocks until someone holding the fd answers it. Throws base::SystemError.
int install_filter_with_listener(const std::vector<sock_filter>& program, bool tsync);

// The x86-64 number of a syscall name, or -1 if unknown.
int syscall_number(std::string_view name);

// The x86-64 name of a syscall number, or "syscall_N" if unknown.
std::string syscall_name(int nr);

}  // namespace minijail
