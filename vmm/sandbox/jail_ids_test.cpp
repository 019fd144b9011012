#include "vmm/sandbox/jail_ids.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "vmm/error.h"

using namespace brig;
using Catch::Matchers::Contains;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/brig-ids-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// Whether another process (a fresh open file description) could lock `id` now.
bool lockable(const std::filesystem::path& dir, uint32_t id) {
    const int fd = ::open((dir / std::to_string(id)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    const bool ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

TEST_CASE("jail ids: distinct ids from the range, each locked until the allocator goes", "[jail-ids]") {
    TempDir temp;
    const auto dir = temp.path / "run" / "ids";
    std::set<uint32_t> ids;
    {
        JailIdAllocator ids_a(dir, {1000, 1004});
        for (int i = 0; i < 5; ++i) ids.insert(ids_a.acquire());
        CHECK(ids == std::set<uint32_t>{1000, 1001, 1002, 1003, 1004});
        CHECK(ids_a.held() == 5);
        for (uint32_t id : ids) CHECK_FALSE(lockable(dir, id));
        // The directory is created private: nobody else may hold or swap our locks.
        struct stat st {};
        REQUIRE(stat(dir.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0700);
        // Its lock fds are close-on-exec: a device never inherits one.
        for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            const std::string target = std::filesystem::read_symlink(entry.path()).string();
            if (target.rfind(dir.string(), 0) != 0) continue;
            const int fd = std::stoi(entry.path().filename().string());
            CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        }
    }
    for (uint32_t id : ids) CHECK(lockable(dir, id));
}

TEST_CASE("jail ids: two allocators (two VMs) never share an id", "[jail-ids]") {
    TempDir temp;
    JailIdAllocator a(temp.path, {2000, 2009}), b(temp.path, {2000, 2009});
    std::set<uint32_t> seen;
    for (int i = 0; i < 5; ++i) {
        CHECK(seen.insert(a.acquire()).second);
        CHECK(seen.insert(b.acquire()).second);
    }
    CHECK(seen.size() == 10);
    for (uint32_t id : seen) {
        CHECK(id >= 2000);
        CHECK(id <= 2009);
    }
}

TEST_CASE("jail ids: an exhausted range is a clear error; freed ids come back", "[jail-ids]") {
    TempDir temp;
    auto first = std::make_unique<JailIdAllocator>(temp.path, JailIdRange{3000, 3001});
    first->acquire();
    first->acquire();
    JailIdAllocator second(temp.path, {3000, 3001});
    try {
        second.acquire();
        FAIL("acquired an id from an exhausted range");
    } catch (const HostError& e) {
        CHECK_THAT(e.what(), Contains("--jail-ids 3000-3001: no free id, all 2 are held"));
    }
    first.reset();
    CHECK(second.acquire() == 3000);
}

TEST_CASE("jail ids: a holder that dies without cleaning up frees its ids", "[jail-ids]") {
    TempDir temp;
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        JailIdAllocator held(temp.path, {4000, 4000});
        held.acquire();
        [[maybe_unused]] auto n = write(ready[1], "x", 1);
        pause();  // until SIGKILL: no destructor runs
        _exit(0);
    }
    close(ready[1]);
    char c;
    REQUIRE(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    JailIdAllocator mine(temp.path, {4000, 4000});
    CHECK_THROWS_AS(mine.acquire(), HostError);
    kill(child, SIGKILL);
    REQUIRE(waitpid(child, nullptr, 0) == child);
    CHECK(mine.acquire() == 4000);
}

TEST_CASE("jail ids: a lock directory others can write to is refused", "[jail-ids]") {
    TempDir temp;
    REQUIRE(chmod(temp.path.c_str(), 0777) == 0);
    CHECK_THROWS_WITH(JailIdAllocator(temp.path, {1, 2}),
                      Contains("must be a directory owned by uid 0 with mode 0700"));
}
