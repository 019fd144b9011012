#include "base/error.h"

#include <catch2/catch.hpp>
#include <cerrno>

TEST_CASE("errno text: symbolic name, then the description", "[base]") {
    CHECK(base::errno_name(ENOENT) == "ENOENT");
    CHECK(base::errno_name(0).empty());
    CHECK(base::errno_name(-1).empty());
    CHECK(base::errno_text(EPERM) == "EPERM (Operation not permitted)");
    CHECK(base::errno_text(4242) == "errno 4242 (Unknown error 4242)");
    CHECK(base::errno_message("pivot_root", EPERM) == "pivot_root: EPERM (Operation not permitted)");
}

TEST_CASE("throw_errno: a SystemError with errno_message's text and the value", "[base]") {
    errno = ENOENT;
    try {
        base::throw_errno("open /x");
    } catch (const base::SystemError& e) {
        CHECK(std::string(e.what()) == "open /x: ENOENT (No such file or directory)");
        CHECK(e.error() == ENOENT);
        return;
    }
    FAIL("throw_errno returned");
}

TEST_CASE("throw_errno: an explicit value wins over errno; a SystemError is a runtime_error", "[base]") {
    errno = 0;
    CHECK_THROWS_WITH(base::throw_errno("clone3", EAGAIN), "clone3: EAGAIN (Resource temporarily unavailable)");
    CHECK_THROWS_AS(base::throw_errno("x", EINVAL), std::runtime_error);
}
