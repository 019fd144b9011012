#include "vmm/sandbox/device_cgroup.h"

#include <catch2/catch.hpp>

using namespace brig;

namespace {
// /proc/self/mountinfo of a host with cgroup v1 memory and pids (and an empty v2).
constexpr const char* kV1Mountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kV1SelfCgroup = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/\n";
}  // namespace

TEST_CASE("cgroup mounts: v1 memory and pids hierarchies, and the unified one", "[cgroup]") {
    const CgroupMounts m = parse_cgroup_mounts(kV1Mountinfo);
    REQUIRE(m.memory_v1);
    CHECK(m.memory_v1->point == "/sys/fs/cgroup/memory");
    CHECK(m.memory_v1->root == "/");
    REQUIRE(m.pids_v1);
    CHECK(m.pids_v1->point == "/sys/fs/cgroup/pids");
    REQUIRE(m.unified);
    CHECK(m.unified->point == "/sys/fs/cgroup/unified");

    const CgroupMounts v2 =
        parse_cgroup_mounts("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    CHECK_FALSE(v2.memory_v1);
    CHECK_FALSE(v2.pids_v1);
    REQUIRE(v2.unified);
    CHECK(v2.unified->point == "/sys/fs/cgroup");
    CHECK_FALSE(parse_cgroup_mounts("").unified);
}

TEST_CASE("cgroup: brig's own cgroup per controller", "[cgroup]") {
    CHECK(own_cgroup(kV1SelfCgroup, "memory").value() == "/process_api/abc");
    CHECK(own_cgroup(kV1SelfCgroup, "pids").value() == "/");
    CHECK(own_cgroup(kV1SelfCgroup, "cpu").value() == "/");
    CHECK(own_cgroup(kV1SelfCgroup, "").value() == "/");
    CHECK_FALSE(own_cgroup(kV1SelfCgroup, "freezer").has_value());
    CHECK(own_cgroup("0::/user.slice/a:b\n", "").value() == "/user.slice/a:b");
}

TEST_CASE("cgroup: --cgroup-parent from the root or from brig's own cgroup", "[cgroup]") {
    const CgroupMounts::Mount memory{"/sys/fs/cgroup/memory", "/"};
    CHECK(cgroup_parent_dir(memory, "/process_api/abc", "/brig") == "/sys/fs/cgroup/memory/brig");
    CHECK(cgroup_parent_dir(memory, "/process_api/abc", "vms") == "/sys/fs/cgroup/memory/process_api/abc/vms");
    CHECK(cgroup_parent_dir(memory, "/", "vms/a") == "/sys/fs/cgroup/memory/vms/a");
    // A mount of a sub-tree (a container's view): paths are relative to its root.
    const CgroupMounts::Mount sub{"/sys/fs/cgroup", "/docker/x"};
    CHECK(cgroup_parent_dir(sub, "/docker/x", "vms") == "/sys/fs/cgroup/vms");
}
