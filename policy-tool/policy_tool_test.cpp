// `brig policy`: the commands end to end through run_policy_command, on the shipped
// policies (BRIG_POLICY_DIR, set by meson) and on policies written to temp dirs.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "minijail-wrapper/minijail/policy.h"
#include "policy-tool/audit.h"
#include "policy-tool/render.h"
#include "policy-tool/policy_command.h"
#include "policy-tool/risk_rules.h"

namespace {

namespace fs = std::filesystem;
using brig::policy_tool::Json;
using brig::policy_tool::Risk;
using Catch::Matchers::Contains;

fs::path shipped_dir() {
    const char* dir = std::getenv("BRIG_POLICY_DIR");
    if (!dir || !*dir) FAIL("BRIG_POLICY_DIR is not set (meson sets it for the unit test runner)");
    return dir;
}

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/brig-policy-tool-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
    fs::path write(const std::string& name, const std::string& text) const {
        fs::create_directories((path / name).parent_path());
        std::ofstream(path / name) << text;
        return path / name;
    }
    void append(const std::string& name, const std::string& text) const {
        std::ofstream(path / name, std::ios::app) << text;
    }
    // A copy of the shipped policies.
    void copy_shipped() const {
        for (const auto& e : fs::directory_iterator(shipped_dir()))
            if (e.path().extension() == ".policy") fs::copy_file(e.path(), path / e.path().filename());
    }
};

struct Result {
    int status;
    std::string out, err;
};

Result run(std::vector<std::string> args) {
    std::ostringstream out, err;
    int status = brig::run_policy_command(args, out, err);
    return {status, out.str(), err.str()};
}

// A policy dir where every context has a trivial policy, and the serial device `serial`.
void minimal_dir(const TempDir& d, const std::string& serial) {
    for (const auto& context : brig::sandbox::sandbox_contexts())
        if (context.policy_file != "serial_device.policy") d.write(context.policy_file, "read: 1\n");
    d.write("serial_device.policy", serial);
}

int audit_status(const std::string& serial) {
    TempDir d;
    minimal_dir(d, serial);
    return run({"audit", "--policy-dir", d.path}).status;
}

Risk risk_of(const std::string& line, brig::sandbox::ContextKind kind = brig::sandbox::ContextKind::DeviceProcess) {
    auto p = minijail::parse_policy_text(line + "\n", "t.policy");
    return brig::policy_tool::assess_rule(p.rules.at(0), kind).risk;
}

const Json* find_by(const Json& array, const std::string& key, const std::string& value) {
    for (const auto& e : array)
        if (e.at(key).get<std::string>() == value) return &e;
    return nullptr;
}

}  // namespace

TEST_CASE("the shipped policies audit clean", "[policy-tool]") {
    auto r = run({"audit", "--policy-dir", shipped_dir()});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Contains("0 findings") && Contains(": clean\n"));

    auto j = run({"audit", "--json", "--policy-dir", shipped_dir()});
    REQUIRE(j.status == 0);
    Json doc = Json::parse(j.out);
    CHECK(doc.at("clean").get<bool>());
    CHECK(doc.at("contexts").size() == brig::sandbox::sandbox_contexts().size());
}

TEST_CASE("audit flags an unjustified execve and accepts a justified one", "[policy-tool]") {
    TempDir d;
    d.copy_shipped();
    d.append("serial_device.policy", "execve: 1\n");
    auto r = run({"audit", "--policy-dir", d.path});
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Contains("FINDING") && Contains("execve") && Contains("NOT clean"));

    auto j = Json::parse(run({"audit", "--json", "--policy-dir", d.path}).out);
    CHECK(j.at("findings").get<int64_t>() == 1);
    const Json* serial = find_by(j.at("contexts"), "name", "serial");
    REQUIRE(serial);
    const Json* execve = find_by(serial->at("allowances"), "syscall", "execve");
    REQUIRE(execve);
    CHECK(execve->at("risk").get<std::string>() == "high");
    CHECK(execve->at("finding").get<bool>());
    CHECK(execve->at("source").get<std::string>() == "serial_device.policy:7");

    SECTION("justified with '-'") {
        d.append("serial_device.policy", "# audit-allow: execve - needed for X\n");
        auto ok = run({"audit", "--policy-dir", d.path});
        INFO(ok.out);
        CHECK(ok.status == 0);
        CHECK_THAT(ok.out, Contains("justified at serial_device.policy:8: needed for X"));
    }
    SECTION("justified with an em dash, in an included file") {
        d.append("common_device.policy", "# audit-allow: execve \u2014 needed for X\n");
        CHECK(run({"audit", "--policy-dir", d.path}).status == 0);
    }
    SECTION("a justification without a reason does not count") {
        d.append("serial_device.policy", "# audit-allow: execve\n");
        auto bad = run({"audit", "--policy-dir", d.path});
        CHECK(bad.status == 1);
        CHECK_THAT(bad.out, Contains("without a key or a reason"));
    }
}

TEST_CASE("audit: ioctl needs a pinned request, mmap must exclude PROT_EXEC", "[policy-tool]") {
    CHECK(audit_status("read: 1\n") == 0);
    CHECK(audit_status("ioctl: 1\n") == 1);
    CHECK(audit_status("ioctl: arg1 == FIONBIO\n") == 0);
    CHECK(audit_status("ioctl: arg0 == 3\n") == 1);  // a filter on the fd is not one on the request
    CHECK(audit_status("mmap: 1\n") == 1);
    CHECK(audit_status("mmap: arg2 in ~PROT_EXEC\n") == 0);
    CHECK(audit_status("mmap: arg2 in ~PROT_EXEC || arg3 == 1\n") == 1);  // the second clause allows PROT_EXEC
    CHECK(audit_status("mprotect: arg2 == PROT_READ|PROT_EXEC\n") == 1);
    CHECK(audit_status("mprotect: arg2 == PROT_READ|PROT_WRITE\n") == 0);
}

TEST_CASE("risk rules", "[policy-tool]") {
    using brig::sandbox::ContextKind;
    CHECK(risk_of("clone: 1") == Risk::High);
    // `&` only says "some bit set": CLONE_THREAD|CLONE_NEWUSER would pass, so it is not enough.
    CHECK(risk_of("clone: arg0 & CLONE_THREAD") == Risk::High);
    CHECK(risk_of("clone: arg0 == CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD") == Risk::Low);
    CHECK(risk_of("clone: arg0 == 0x40010000") /* CLONE_THREAD|CLONE_NEWNET */ == Risk::High);
    CHECK(risk_of("clone: arg0 & 0x10010000") /* CLONE_THREAD|CLONE_NEWUSER */ == Risk::High);
    CHECK(risk_of("clone3: 1") == Risk::High);
    CHECK(risk_of("clone3: return ENOSYS") == Risk::Low);
    CHECK(risk_of("socket: 1") == Risk::High);
    CHECK(risk_of("socket: arg0 == AF_UNIX") == Risk::Medium);
    CHECK(risk_of("openat: 1") == Risk::High);
    CHECK(risk_of("openat: 1", ContextKind::VmmThread) == Risk::Medium);
    CHECK(risk_of("ioctl: arg1 == TCGETS; return ENOTTY") == Risk::Medium);
    CHECK(risk_of("fcntl: arg1 == F_GETFL") == Risk::Medium);
    CHECK(risk_of("tgkill: 1") == Risk::Medium);
    CHECK(risk_of("mmap: arg2 < 4") == Risk::Low);
    CHECK(risk_of("mmap: arg2 < 5") == Risk::High);
    CHECK(risk_of("read: 1") == Risk::Low);
    CHECK(risk_of("bpf: 1") == Risk::High);
}

TEST_CASE("audit checks a device's jail profile", "[policy-tool]") {
    const auto& serial = brig::sandbox::device_context("serial");
    auto checks = brig::policy_tool::check_jail(serial);
    CHECK(checks.size() == 15);
    for (const auto& c : checks) CHECK(c.ok);

    auto weak = serial;
    weak.jail.namespaces = {"user", "pid", "mnt"};
    weak.jail.drops_all_capabilities = false;
    weak.jail.no_new_privs = false;
    weak.jail.rlimits.clear();
    weak.jail.root = "host";
    int failed = 0;
    for (const auto& c : brig::policy_tool::check_jail(weak)) failed += !c.ok;
    CHECK(failed == 4 /* net ipc uts cgroup */ + 1 + 1 + 2 /* rlimits, core */ + 1);

    TempDir d;
    minimal_dir(d, "read: 1\n# audit-allow: jail:net - test\n");
    weak = serial;
    weak.jail.namespaces = {"user", "pid", "mnt", "ipc", "uts", "cgroup"};
    auto report = brig::policy_tool::run_audit({weak}, d.path, std::nullopt);
    CHECK(report.clean());
    weak.jail.no_new_privs = false;
    CHECK(brig::policy_tool::run_audit({weak}, d.path, std::nullopt).findings() == 1);
}

TEST_CASE("audit-allow comments", "[policy-tool]") {
    using brig::policy_tool::parse_justification;
    bool malformed = false;
    auto j = parse_justification(" audit-allow: execve \u2014 the helper runs a shell", &malformed);
    REQUIRE(j);
    CHECK(j->key == "execve");
    CHECK(j->reason == "the helper runs a shell");
    CHECK(parse_justification("audit-allow: jail:net - needs a network")->key == "jail:net");
    CHECK(parse_justification("audit-allow: ioctl -- two dashes")->reason == "two dashes");
    CHECK_FALSE(parse_justification(" just a comment", &malformed));
    CHECK_FALSE(malformed);
    CHECK_FALSE(parse_justification(" audit-allow: execve", &malformed));
    CHECK(malformed);
    CHECK_FALSE(parse_justification(" audit-allow: execve because", &malformed));
    CHECK(malformed);
}

TEST_CASE("the parser keeps comments with their file and line", "[policy-tool]") {
    TempDir d;
    d.write("inc.policy", "# included\nwrite: 1\n");
    auto file = d.write("top.policy", "# first\nread: 1  # trailing\n@include inc.policy\n");
    auto p = minijail::parse_policy_file(file);
    REQUIRE(p.comments.size() == 3);
    CHECK(p.comments[0].text == " first");
    CHECK(p.comments[0].line == 1);
    CHECK(p.comments[1].text == " trailing");
    CHECK(p.comments[1].line == 2);
    CHECK(p.comments[2].file.filename() == "inc.policy");
    CHECK(p.comments[2].line == 1);
}

TEST_CASE("audit --observed marks allowances the runs never used", "[policy-tool]") {
    TempDir observed;
    observed.write("serial_device.policy", "read: 1\nwrite: 1\nfutex: 1\nopenat: 1\n");
    auto r = run({"audit", "--policy-dir", shipped_dir(), "--observed", observed.path});
    INFO(r.out);
    CHECK(r.status == 0);  // informational only
    CHECK_THAT(r.out, Contains("unused in observed runs: candidates for removal: ") && Contains(" fdatasync"));
    CHECK_THAT(r.out, Contains("used in observed runs but not allowed here: openat"));
    CHECK_THAT(r.out, Contains("no virtio_blk_device.policy in"));

    auto j = Json::parse(run({"audit", "--json", "--policy-dir", shipped_dir(), "--observed", observed.path}).out);
    const Json* serial = find_by(j.at("contexts"), "name", "serial");
    REQUIRE(serial);
    bool fdatasync = false, read = false;
    for (const auto& s : serial->at("unused_in_observed")) {
        fdatasync |= s.get<std::string>() == "fdatasync";
        read |= s.get<std::string>() == "read";
    }
    CHECK(fdatasync);
    CHECK_FALSE(read);
}

TEST_CASE("check: ok with a count, or the error with line and column", "[policy-tool]") {
    TempDir d;
    auto good = d.write("good.policy", "read: 1\nwrite: arg0 == 1\n");
    auto bad = d.write("bad.policy", "read: 1\nwrite: arg9 == 1\n");
    auto r = run({"check", good.string()});
    CHECK(r.status == 0);
    CHECK(r.out == good.string() + ": ok (2 syscalls)\n");

    r = run({"check", good.string(), bad.string()});
    CHECK(r.status == 1);
    CHECK(r.out == good.string() + ": ok (2 syscalls)\n");
    CHECK_THAT(r.err, Contains(bad.string() + ":2:8: bad argument index"));

    auto j = Json::parse(run({"check", "--json", bad.string()}).out);
    CHECK_FALSE(j.at("ok").get<bool>());
    CHECK(j.at("files")[0].at("line").get<int64_t>() == 2);
    CHECK(j.at("files")[0].at("column").get<int64_t>() == 8);

    for (const auto& e : fs::directory_iterator(shipped_dir()))
        if (e.path().extension() == ".policy") CHECK(run({"check", e.path().string()}).status == 0);
}

TEST_CASE("show --jail-user accepts exactly what brig run accepts", "[policy-tool]") {
    // brig run refuses id 0 (a jail running as root is no jail), so show must not describe it.
    for (const char* ids : {"0", "0:1000", "1000:0", "4294967295", "x"}) {
        INFO(ids);
        const auto r = run({"show", "serial", "--jail-user", ids, "--policy-dir", shipped_dir()});
        CHECK(r.status == 35);
        CHECK_THAT(r.err, Contains("--jail-user"));
    }
    CHECK(run({"show", "serial", "--jail-user", "1000:1001", "--policy-dir", shipped_dir()}).status == 0);
}

TEST_CASE("usage errors are one line naming the problem, exit 35", "[policy-tool]") {
    auto r = run({"frobnicate"});
    CHECK(r.status == 35);
    CHECK_THAT(r.err, Contains("'frobnicate'"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    r = run({"audit", "--bogus"});
    CHECK(r.status == 35);
    CHECK_THAT(r.err, Contains("'--bogus'"));
    CHECK(run({"check"}).status == 35);
    CHECK(run({"show"}).status == 35);
    CHECK(run({"show", "nosuchdevice"}).status == 35);
    CHECK(run({"list", "--bpf"}).status == 35);
    CHECK(run({"diff", "a"}).status == 35);
    r = run({});
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Contains("usage: brig policy"));
    CHECK(run({"help"}).status == 0);
}

TEST_CASE("diff: added, removed and changed syscalls by value, with risks", "[policy-tool]") {
    TempDir old_dir, new_dir;
    old_dir.write("a.policy", "read: 1\nwrite: 1\nioctl: arg1 == FIONBIO\nfcntl: arg1 == 3\n");
    new_dir.write("a.policy", "read: 1\nioctl: 1\nexecve: 1\nfcntl: arg1 == 0x3\nmmap: arg2 in ~PROT_EXEC\n");
    old_dir.write("b.policy", "read: 1\n");
    old_dir.write("c.policy", "read: 1\n");
    new_dir.write("c.policy", "# same\nread: 1\n");

    auto r = run({"diff", "--json", old_dir.path, new_dir.path});
    CHECK(r.status == 1);
    Json j = Json::parse(r.out);
    CHECK_FALSE(j.at("identical").get<bool>());
    REQUIRE(j.at("files").size() == 3);
    const Json& a = *find_by(j.at("files"), "file", "a.policy");
    CHECK(a.at("status").get<std::string>() == "changed");
    REQUIRE(a.at("added").size() == 2);
    CHECK(a.at("added")[0].at("syscall").get<std::string>() == "execve");
    CHECK(a.at("added")[0].at("risk").get<std::string>() == "high");
    CHECK(a.at("added")[1].at("syscall").get<std::string>() == "mmap");
    REQUIRE(a.at("removed").size() == 1);
    CHECK(a.at("removed")[0].at("syscall").get<std::string>() == "write");
    REQUIRE(a.at("changed").size() == 1);  // fcntl 3 == 0x3: no change
    const Json& ioctl = a.at("changed")[0];
    CHECK(ioctl.at("syscall").get<std::string>() == "ioctl");
    CHECK(ioctl.at("old").at("condition").get<std::string>() == "arg1 == FIONBIO");
    CHECK(ioctl.at("old").at("risk").get<std::string>() == "medium");
    CHECK(ioctl.at("new").at("risk").get<std::string>() == "high");
    CHECK(ioctl.at("risk_changed").get<bool>());
    CHECK(find_by(j.at("files"), "file", "b.policy")->at("status").get<std::string>() == "only_old");
    CHECK(find_by(j.at("files"), "file", "c.policy")->at("status").get<std::string>() == "identical");

    auto text = run({"diff", old_dir.path, new_dir.path}).out;
    CHECK_THAT(text, Contains("+ execve") && Contains("- write") && Contains("~ ioctl") &&
                         Contains("risk medium -> high") && Contains("b.policy: only in OLD") &&
                         Contains("1 other file identical"));

    CHECK(run({"diff", old_dir.path, old_dir.path}).status == 0);
    CHECK(run({"diff", "builtin", shipped_dir()}).status == 0);
    CHECK(run({"diff", (old_dir.path / "c.policy").string(), (new_dir.path / "c.policy").string()}).status == 0);
    CHECK(run({"diff", old_dir.path, (new_dir.path / "c.policy").string()}).status == 35);
}

TEST_CASE("show: the effective policy with sources, and the jail", "[policy-tool]") {
    auto r = run({"show", "serial", "--policy-dir", shipped_dir()});
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Contains("common_device.policy:7"));  // mmap, from the include
    CHECK_THAT(r.out, Contains("arg2 in ~PROT_EXEC (0xfffffffffffffffb)"));
    CHECK_THAT(r.out, Contains("arg1 == FIONBIO (0x5421)"));
    CHECK_THAT(r.out, Contains("return ENOSYS"));
    CHECK_THAT(r.out, Contains("serial_device.policy:6"));  // fdatasync
    CHECK_THAT(r.out, Contains("namespaces") && Contains("user pid mnt net ipc uts cgroup"));
    CHECK_THAT(r.out, Contains("uid_map") && Contains("J J 1  (J = the device's id)") && Contains("RLIMIT_CORE 0"));
    CHECK_THAT(r.out, Contains("one uid/gid per device (uid = gid), from --jail-ids (default 400000-499999)"));
    CHECK_THAT(r.out, Contains("parent-death signal"));
    CHECK_THAT(r.out,
               Contains("RLIMIT_DATA 67108864") && Contains("with --cgroup-parent, its own: memory 24 MiB, 16 tasks"));

    auto j =
        Json::parse(run({"show", "serial", "--json", "--jail-user", "1000:1001", "--policy-dir", shipped_dir()}).out);
    CHECK(j.at("name").get<std::string>() == "serial");
    const Json& jail = j.at("jail");
    CHECK(jail.at("namespaces").size() == 7);
    CHECK(jail.at("no_new_privs").get<bool>());
    CHECK(jail.at("capabilities").get<std::string>() == "none");
    CHECK(jail.at("uid_map").get<std::string>() == "1000 1000 1");
    CHECK(jail.at("gid_map").get<std::string>() == "1001 1001 1");
    auto per_device = Json::parse(run({"show", "virtio-blk", "--json", "--policy-dir", shipped_dir()}).out);
    CHECK(per_device.at("jail").at("uid_map").get<std::string>() == "J J 1");
    CHECK_THAT(per_device.at("jail").at("ids").get<std::string>(), Contains("one uid/gid per device"));
    CHECK(per_device.at("jail").at("cgroup").at("plus_guest_memory").get<bool>());
    const Json* core = find_by(jail.at("rlimits"), "name", "RLIMIT_CORE");
    REQUIRE(core);
    CHECK(core->at("soft").get<int64_t>() == 0);
    const Json* data = find_by(jail.at("rlimits"), "name", "RLIMIT_DATA");
    REQUIRE(data);
    CHECK(data->at("soft").get<int64_t>() == 64 * 1024 * 1024);
    CHECK(jail.at("cgroup").at("memory_bytes").get<int64_t>() == 24 * 1024 * 1024);
    CHECK_FALSE(jail.at("cgroup").at("plus_guest_memory").get<bool>());
    CHECK(jail.at("cgroup").at("pids").get<int64_t>() == 16);
    const Json* mmap = find_by(j.at("rules"), "syscall", "mmap");
    REQUIRE(mmap);
    CHECK(mmap->at("action").get<std::string>() == "allow-if");
    CHECK(mmap->at("condition").get<std::string>() == "arg2 in ~PROT_EXEC");
    CHECK(mmap->at("condition_hex").get<std::string>() == "arg2 in 0xfffffffffffffffb");
    CHECK(mmap->at("source").get<std::string>() == "common_device.policy:7");
    CHECK(mmap->at("clauses")[0][0].at("written").get<std::string>() == "~PROT_EXEC");

    auto vcpu = Json::parse(run({"show", "vcpu", "--json", "--policy-dir", shipped_dir()}).out);
    CHECK(vcpu.at("jail").at("uid_map").is_null());
    CHECK_FALSE(vcpu.at("jail").at("own_process").get<bool>());
}

TEST_CASE("show --bpf prints libseccomp's pseudo-filter code", "[policy-tool]") {
    auto r = run({"show", "virtio-rng", "--bpf", "--policy-dir", shipped_dir()});
    REQUIRE(r.status == 0);
    // A device's refused syscall goes to brig's listener (libseccomp prints that action
    // as GOTO_TAIL); a brig thread's traps.
    CHECK_THAT(r.out, Contains("BPF instructions") && Contains("getrandom") && Contains("action ALLOW;") &&
                          Contains("# default action") && !Contains("action TRAP;"));
    auto j = Json::parse(run({"show", "virtio-rng", "--bpf", "--json", "--policy-dir", shipped_dir()}).out);
    CHECK(j.at("bpf_instructions").get<int64_t>() > 10);
    CHECK_THAT(j.at("default_action").get<std::string>(), Catch::Matchers::StartsWith("user-notif"));
    auto vcpu = run({"show", "vcpu", "--bpf", "--policy-dir", shipped_dir()});
    CHECK_THAT(vcpu.out, Contains("action TRAP;"));

    TempDir d;
    auto file = d.write("e.policy", "ioctl: arg1 == FIONBIO; return ENOTTY\n");
    auto pfc = minijail::export_pfc(minijail::parse_policy_file(file), minijail::DefaultAction::KillProcess);
    CHECK_THAT(pfc, Contains("GOTO_TAIL") && Contains("action ERRNO(25);") && Contains("action KILL_PROCESS;"));
}

TEST_CASE("list names every context", "[policy-tool]") {
    auto r = run({"list", "--policy-dir", shipped_dir()});
    REQUIRE(r.status == 0);
    for (const auto& c : brig::sandbox::sandbox_contexts())
        CHECK_THAT(r.out, Contains(c.name) && Contains(c.policy_file));
    auto j = Json::parse(run({"list", "--json", "--policy-dir", shipped_dir()}).out);
    CHECK(j.at("contexts").size() == brig::sandbox::sandbox_contexts().size());
    CHECK(j.at("contexts")[0].at("kind").get<std::string>() == "device process");
}

TEST_CASE("the JSON writer and reader agree", "[policy-tool]") {
    Json o = Json::object();
    o["s"] = "a \"quoted\"\n\ttab \u2014 dash";
    o["n"] = int64_t{-42};
    o["b"] = true;
    o["z"] = Json();
    Json arr = Json::array();
    arr.push_back(1);
    arr.push_back(Json::object());
    o["a"] = arr;
    Json back = Json::parse(brig::policy_tool::json_text(o));
    CHECK(brig::policy_tool::json_text(back) == brig::policy_tool::json_text(o));
    CHECK(back.at("s").get<std::string>() == "a \"quoted\"\n\ttab \u2014 dash");
    CHECK_THROWS(Json::parse("{\"a\": }"));
    CHECK_THROWS(Json::parse("[1, 2"));
    CHECK_THROWS(Json::parse("{} x"));
}

TEST_CASE("JSON output keeps its key order and survives bytes that are not UTF-8", "[policy-tool]") {
    TempDir d;
    const auto odd = d.write("odd\xff.policy", "read: 1\n");
    const auto r = run({"check", "--json", odd.string()});
    REQUIRE(r.status == 0);
    const Json j = Json::parse(r.out);  // still valid JSON: the stray byte became U+FFFD
    const Json& file = j.at("files").at(0);
    CHECK(file.at("file").get<std::string>() == (d.path / "odd\xef\xbf\xbd.policy").string());
    std::vector<std::string> keys;
    for (auto it = file.begin(); it != file.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"file", "ok", "syscalls", "bpf_instructions"});
}
