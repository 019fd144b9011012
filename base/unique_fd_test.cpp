#include "base/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>

namespace {

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

int open_null() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

TEST_CASE("UniqueFd: empty by default, closes what it owns once", "[base]") {
    base::UniqueFd none;
    CHECK_FALSE(none);
    CHECK(none.get() == -1);
    const int raw = open_null();
    REQUIRE(raw >= 0);
    {
        base::UniqueFd fd(raw);
        CHECK(fd.valid());
        CHECK(fd.get() == raw);
    }
    CHECK_FALSE(is_open(raw));
}

TEST_CASE("UniqueFd: a move hands the fd over and empties the source", "[base]") {
    const int raw = open_null();
    base::UniqueFd a(raw);
    base::UniqueFd b(std::move(a));
    CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    CHECK(b.get() == raw);

    const int other = open_null();
    base::UniqueFd c(other);
    c = std::move(b);  // closes `other`, takes `raw`
    CHECK(c.get() == raw);
    CHECK_FALSE(is_open(other));
    CHECK(is_open(raw));

    auto& self = c;
    c = std::move(self);
    CHECK(c.get() == raw);
    CHECK(is_open(raw));
}

TEST_CASE("UniqueFd: reset closes the old fd, release gives it up unclosed", "[base]") {
    const int first = open_null();
    const int second = open_null();
    base::UniqueFd fd(first);
    fd.reset(second);
    CHECK_FALSE(is_open(first));
    CHECK(fd.get() == second);

    const int released = fd.release();
    CHECK(released == second);
    CHECK_FALSE(fd);
    CHECK(is_open(second));
    fd.reset();  // nothing held: nothing closed
    CHECK(is_open(second));
    ::close(second);
}

TEST_CASE("UniqueFd: reset keeps errno, so a cleanup cannot change a pending error", "[base]") {
    base::UniqueFd fd(open_null());
    errno = ENOSPC;
    fd.reset();
    CHECK(errno == ENOSPC);
}
