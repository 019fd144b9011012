#include "minijail-wrapper/minijail/constants.h"
#include "minijail-wrapper/minijail/policy.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace {

using Catch::Matchers::Contains;
using minijail::DefaultAction;
using minijail::PolicyError;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/minijail-policy-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return path / name;
    }
};

std::string parse_error(const std::string& text) {
    try {
        (void)minijail::parse_policy_text(text, "t.policy");
    } catch (const PolicyError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string compile_error(const std::string& text) {
    try {
        (void)minijail::compile_policy(minijail::parse_policy_text(text, "t.policy"), DefaultAction::Trap);
    } catch (const PolicyError& e) {
        return e.what();
    }
    return "(no error)";
}

// What a forked child needs to run `body` and report through its exit status.
const char* const kBase = "exit_group: 1\nexit: 1\nwrite: 1\n";

// Forks; the child installs `policy` (plus kBase) with a Trap default, runs `body` and
// exits with its return value. Returns the raw wait status.
int run_filtered(const std::string& policy, const std::function<int()>& body) {
    auto program =
        minijail::compile_policy(minijail::parse_policy_text(kBase + policy, "test.policy"), DefaultAction::Trap);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        try {
            minijail::install_filter(program, false);
        } catch (...) {
            _exit(99);
        }
        _exit(body());
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

bool killed_by_sigsys(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }
bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

}  // namespace

TEST_CASE("every operator parses and compiles", "[policy]") {
    auto policy = minijail::parse_policy_text(
        "# comment line\n"
        "\n"
        "read: 1\n"
        "write: arg0 == 1 || arg0 == 2   # trailing comment\n"
        "close: arg0 != 0\n"
        "lseek: arg2 < 3 && arg0 > 2\n"
        "dup: arg0 <= 10\n"
        "dup2: arg1 >= 3\n"
        "mmap: arg2 in ~PROT_EXEC && arg3 & MAP_SHARED|MAP_ANONYMOUS\n"
        "openat: return ENOENT\n"
        "ioctl: arg1 == TCGETS || arg1 == TIOCGWINSZ; return ENOTTY\n"
        "fcntl: arg1 == F_SETFD && arg2 == FD_CLOEXEC || arg1 == 0x406\n"
        "umask: arg0 == 022 || arg0 == 0x12 || arg0 == 18\n",
        "t.policy");
    REQUIRE(policy.rules.size() == 11);
    const auto* write = policy.find("write");
    REQUIRE(write);
    CHECK(write->location.str() == "t.policy:4:1");
    REQUIRE(write->clauses.size() == 2);
    CHECK(write->clauses[1][0].value == 2);
    CHECK(policy.find("read")->allows_unconditionally());
    CHECK(policy.find("close")->clauses[0][0].op == minijail::CmpOp::Ne);
    CHECK(policy.find("lseek")->clauses[0][0].op == minijail::CmpOp::Lt);
    CHECK(policy.find("lseek")->clauses[0][1].op == minijail::CmpOp::Gt);
    CHECK(policy.find("dup")->clauses[0][0].op == minijail::CmpOp::Le);
    CHECK(policy.find("dup2")->clauses[0][0].op == minijail::CmpOp::Ge);
    const auto* umask = policy.find("umask");
    CHECK(umask->clauses[0][0].value == 18);
    CHECK(umask->clauses[1][0].value == 18);
    CHECK(umask->clauses[2][0].value == 18);

    for (auto action : {DefaultAction::Trap, DefaultAction::KillProcess, DefaultAction::Log, DefaultAction::Errno}) {
        auto program = minijail::compile_policy(policy, action);
        CHECK(program.size() > 10);
    }
}

TEST_CASE("in, & and return parse to the documented form", "[policy]") {
    auto policy = minijail::parse_policy_text(
        "mmap: arg2 in ~PROT_EXEC\n"
        "mprotect: arg2 & PROT_READ|PROT_WRITE\n"
        "open: return ENOENT\n"
        "ioctl: arg1 == TCGETS; return ENOTTY\n",
        "t.policy");
    const auto& in = policy.find("mmap")->clauses.at(0).at(0);
    CHECK(in.op == minijail::CmpOp::In);
    CHECK(in.arg == 2);
    CHECK(in.value == ~uint64_t{PROT_EXEC});
    CHECK(in.value_text == "~PROT_EXEC");
    const auto& bits = policy.find("mprotect")->clauses.at(0).at(0);
    CHECK(bits.op == minijail::CmpOp::AnyBits);
    CHECK(bits.value == (PROT_READ | PROT_WRITE));
    const auto* open = policy.find("open");
    CHECK(open->clauses.empty());
    CHECK(open->errno_value == ENOENT);
    const auto* ioctl = policy.find("ioctl");
    CHECK(ioctl->clauses.size() == 1);
    CHECK(ioctl->clauses[0][0].value == TCGETS);
    CHECK(ioctl->errno_value == ENOTTY);
}

TEST_CASE("parse errors name file:line:column", "[policy]") {
    CHECK(parse_error("read: 1\nopn: 1\n") == "t.policy:2:1: unknown syscall 'opn'");
    CHECK(parse_error("mmap: arg2 == PROT_RAED\n") == "t.policy:1:15: unknown constant 'PROT_RAED'");
    CHECK(parse_error("read: arg0 =~ 1\n") == "t.policy:1:12: bad operator '=~' (expected == != < <= > >= & in)");
    CHECK(parse_error("read 1\n") == "t.policy:1:6: expected ':' after syscall name 'read'");
    CHECK(parse_error("read: arg6 == 1\n") == "t.policy:1:7: bad argument index in 'arg6': must be arg0 to arg5");
    CHECK(parse_error("read: 1\n\nread: arg0 == 1\n") ==
          "t.policy:3:1: duplicate entry for 'read' (first at t.policy:1:1)");
    CHECK(parse_error("open: return ENOPE\n") == "t.policy:1:14: unknown errno 'ENOPE'");
    CHECK(parse_error("read: arg0 == 1 junk\n") == "t.policy:1:17: unexpected 'junk'");
    CHECK(parse_error("read: arg0 & 0\n") == "t.policy:1:14: '& 0' can never hold");
    CHECK(parse_error("read: arg0 == 99999999999999999999\n") ==
          "t.policy:1:15: number out of range: '99999999999999999999'");
    CHECK(parse_error("@inclde x\n") == "t.policy:1:1: unknown directive '@inclde'");
}

TEST_CASE("two comparisons of one argument in a clause are reported with their location", "[policy]") {
    CHECK(compile_error("read: 1\nmmap: arg2 == 1 && arg2 == 3\n") ==
          "t.policy:2:20: arg2 is compared twice in one clause of 'mmap'; libseccomp allows one comparison per "
          "argument per rule (split it with '||' or drop one)");
}

// An @include of something that is not a policy file (a device that never ends, a
// directory, a file too large to be one) is one PolicyError, never a hang or an
// allocation without end.
TEST_CASE("@include of a device, a directory or a huge file is refused", "[policy]") {
    TempDir dir;
    for (const std::string target : {"/dev/zero", "/dev/urandom", "/tmp"}) {
        const auto file = dir.write("dev.policy", "read: 1\n@include " + target + "\n");
        CHECK_THROWS_WITH(minijail::parse_policy_file(file),
                          Contains("dev.policy:2:1: ") && Contains(target) && Contains("is not a regular file"));
    }
    dir.write("huge.policy", std::string(2 << 20, '#'));
    const auto top = dir.write("top.policy", "@include huge.policy\n");
    CHECK_THROWS_WITH(minijail::parse_policy_file(top), Contains("top.policy:1:1: ") && Contains("larger than"));
}

TEST_CASE("@include is resolved relative to the including file, and loops are reported", "[policy]") {
    TempDir dir;
    std::filesystem::create_directory(dir.path / "sub");
    dir.write("sub/common.policy", "read: 1\nwrite: 1\n");
    auto top = dir.write("top.policy", "# device\n@include sub/common.policy\nclose: 1\n");
    auto policy = minijail::parse_policy_file(top);
    REQUIRE(policy.rules.size() == 3);
    CHECK(policy.rules[0].name == "read");
    CHECK(policy.rules[0].location.str() == (dir.path / "sub/common.policy").string() + ":1:1");
    CHECK(policy.rules[2].name == "close");
    (void)minijail::compile_policy(policy, DefaultAction::Trap);

    auto dup = dir.write("dup.policy", "@include sub/common.policy\nread: 1\n");
    CHECK_THROWS_WITH(minijail::parse_policy_file(dup), (dir.path / "dup.policy").string() +
                                                            ":2:1: duplicate entry for 'read' (first at " +
                                                            (dir.path / "sub/common.policy").string() + ":1:1)");

    dir.write("a.policy", "read: 1\n@include b.policy\n");
    dir.write("b.policy", "  @include a.policy\n");
    CHECK_THROWS_WITH(minijail::parse_policy_file(dir.path / "a.policy"),
                      (dir.path / "b.policy").string() + ":1:3: include loop: a.policy -> b.policy -> a.policy");

    dir.write("missing.policy", "@include nothere.policy\n");
    CHECK_THROWS_WITH(minijail::parse_policy_file(dir.path / "missing.policy"),
                      Contains("missing.policy:1:1: cannot read '") && Contains("ENOENT"));
    CHECK_THROWS_WITH(minijail::parse_policy_file(dir.path / "absent.policy"), Contains(": ENOENT (No such file"));
}

TEST_CASE("constants, errno names and syscall names", "[policy]") {
    CHECK(minijail::lookup_constant("KVM_SET_MSRS") == 0x4008ae89u);
    CHECK(minijail::lookup_constant("KVM_GET_MSRS") == 0xc008ae88u);
    CHECK(minijail::lookup_constant("KVM_RUN") == KVM_RUN);
    CHECK(minijail::lookup_constant("FUTEX_WAIT_PRIVATE") == 128);
    CHECK(minijail::lookup_constant("O_CLOEXEC") == O_CLOEXEC);
    CHECK_FALSE(minijail::lookup_constant("NOT_A_CONSTANT"));
    CHECK(minijail::lookup_errno("ENOTTY") == ENOTTY);
    CHECK(minijail::syscall_name(0) == "read");
    CHECK(minijail::syscall_name(SYS_getpid) == "getpid");
    CHECK(minijail::syscall_name(5000) == "syscall_5000");
}

TEST_CASE("enforcement: a syscall outside the policy kills with SIGSYS", "[policy]") {
    CHECK(killed_by_sigsys(run_filtered("", [] { return static_cast<int>(syscall(SYS_getpid)) > 0 ? 0 : 1; })));
    CHECK(killed_by_sigsys(run_filtered(
        "getppid: 1\n", [] { return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY) >= 0 ? 0 : 1; })));
    // The same child with the call allowed: the filter is not simply killing everything.
    CHECK(exited_ok(run_filtered("getpid: 1\n", [] { return static_cast<int>(syscall(SYS_getpid)) > 0 ? 0 : 1; })));
}

TEST_CASE("enforcement: return ERRNO", "[policy]") {
    CHECK(exited_ok(
        run_filtered("getppid: return EPERM\n", [] { return syscall(SYS_getppid) == -1 && errno == EPERM ? 0 : 1; })));
    CHECK(exited_ok(run_filtered("openat: return ENOENT\n", [] {
        return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY) == -1 && errno == ENOENT ? 0 : 1;
    })));
    // The Errno default action.
    auto program =
        minijail::compile_policy(minijail::parse_policy_text(kBase, "t.policy"), DefaultAction::Errno, EACCES);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        minijail::install_filter(program, false);
        _exit(syscall(SYS_getppid) == -1 && errno == EACCES ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(exited_ok(status));
}

TEST_CASE("enforcement: an argument filter allows one ioctl and not another", "[policy]") {
    int p[2];
    REQUIRE(pipe(p) == 0);
    int fd = p[0];
    auto fionread = [fd] {
        int n = -1;
        return ioctl(fd, FIONREAD, &n) == 0 && n == 0 ? 0 : 1;
    };
    auto tcgets = [fd] {
        termios t;
        return ioctl(fd, TCGETS, &t) == -1 ? 0 : 1;
    };
    CHECK(exited_ok(run_filtered("ioctl: arg1 == FIONREAD\n", fionread)));
    CHECK(killed_by_sigsys(run_filtered("ioctl: arg1 == FIONREAD\n", tcgets)));
    // With `; return ENOTTY` the other ioctl fails with that errno instead.
    CHECK(exited_ok(run_filtered("ioctl: arg1 == FIONREAD; return ENOTTY\n", fionread)));
    CHECK(exited_ok(run_filtered("ioctl: arg1 == FIONREAD || arg1 == FIONBIO; return ENOTTY\n", [fd] {
        termios t;
        return ioctl(fd, TCGETS, &t) == -1 && errno == ENOTTY ? 0 : 1;
    })));
    // Other syscalls still get the default action, not the ioctl's errno.
    CHECK(killed_by_sigsys(run_filtered("ioctl: arg1 == FIONREAD; return ENOTTY\n",
                                        [] { return static_cast<int>(syscall(SYS_getpid)) > 0 ? 0 : 1; })));
    close(p[0]);
    close(p[1]);
}

TEST_CASE("enforcement: in, &, 64-bit values and clauses over different arguments", "[policy]") {
    auto umask_call = [](uint64_t v) { return [v] { return syscall(SYS_umask, v) >= 0 ? 0 : 1; }; };
    CHECK(exited_ok(run_filtered("umask: arg0 in 0777\n", umask_call(022))));
    CHECK(killed_by_sigsys(run_filtered("umask: arg0 in 0777\n", umask_call(01022))));
    CHECK(exited_ok(run_filtered("umask: arg0 & 0100|0010\n", umask_call(0100))));
    CHECK(exited_ok(run_filtered("umask: arg0 & 0100|0010\n", umask_call(0017))));
    CHECK(killed_by_sigsys(run_filtered("umask: arg0 & 0100|0010\n", umask_call(0007))));
    CHECK(exited_ok(run_filtered("umask: arg0 == 0x100000000\n", umask_call(0x100000000))));
    CHECK(killed_by_sigsys(run_filtered("umask: arg0 == 0x100000000\n", umask_call(0))));
    CHECK(exited_ok(run_filtered("umask: arg0 > 0xffffffff\n", umask_call(0x100000000))));
    CHECK(killed_by_sigsys(run_filtered("umask: arg0 > 0xffffffff\n", umask_call(0xffffffff))));

    const std::string two_args = "getpriority: arg0 == 0 && arg1 == 0 || arg1 == 7\n";
    auto getprio = [](uint64_t which, uint64_t who) { return [=] { return syscall(SYS_getpriority, which, who), 0; }; };
    CHECK(exited_ok(run_filtered(two_args, getprio(0, 0))));
    CHECK(exited_ok(run_filtered(two_args, getprio(0, 7))));
    CHECK(exited_ok(run_filtered(two_args, getprio(1, 7))));
    CHECK(killed_by_sigsys(run_filtered(two_args, getprio(1, 0))));
    CHECK(killed_by_sigsys(run_filtered(two_args, getprio(0, 1))));
}

TEST_CASE("every policy in BRIG_POLICY_DIR compiles", "[policy]") {
    const char* dir = std::getenv("BRIG_POLICY_DIR");
    INFO("BRIG_POLICY_DIR must name the policies/ directory");
    REQUIRE(dir != nullptr);
    REQUIRE(std::filesystem::is_directory(dir));
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".policy") continue;
        INFO(entry.path().string());
        auto policy = minijail::parse_policy_file(entry.path());
        CHECK_FALSE(policy.rules.empty());
        CHECK(minijail::compile_policy(policy, DefaultAction::Trap).size() > 0);
        ++count;
    }
    CHECK(count > 0);
}
