#include "base/eventfd.h"

#include <fcntl.h>

#include <catch2/catch.hpp>

TEST_CASE("eventfd: signals add up, a drain returns and resets them", "[base]") {
    const base::UniqueFd fd = base::make_eventfd("test");
    REQUIRE(fd);
    const int flags = fcntl(fd.get(), F_GETFL);
    CHECK((flags & O_NONBLOCK) != 0);
    CHECK((fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);

    CHECK(base::drain_eventfd(fd.get()) == 0);  // nothing pending: no wait (non-blocking)
    CHECK(base::signal_eventfd(fd.get()));
    CHECK(base::signal_eventfd(fd.get()));
    CHECK(base::signal_eventfd(fd.get()));
    CHECK(base::drain_eventfd(fd.get()) == 3);
    CHECK(base::drain_eventfd(fd.get()) == 0);
}

TEST_CASE("eventfd: a bad fd fails quietly", "[base]") {
    CHECK_FALSE(base::signal_eventfd(-1));
    CHECK(base::drain_eventfd(-1) == 0);
}
