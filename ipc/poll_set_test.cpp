#include "ipc/poll_set.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/unique_fd.h"

using brig::ipc::PollSet;

namespace {
enum class What { First, Second, Skipped };
}

TEST_CASE("poll set: ready fds come back as their tokens, negative fds are skipped", "[poll-set]") {
    int a[2], b[2];
    REQUIRE(pipe(a) == 0);
    REQUIRE(pipe(b) == 0);
    base::UniqueFd a_read(a[0]), a_write(a[1]), b_read(b[0]), b_write(b[1]);
    PollSet<What> set;
    set.add(a_read.get(), POLLIN, What::First);
    set.add(-1, POLLIN, What::Skipped);
    set.add(b_read.get(), POLLIN, What::Second);
    CHECK(set.wait(0) == 0);
    CHECK(set.ready().empty());

    REQUIRE(write(b_write.get(), "x", 1) == 1);
    REQUIRE(set.wait(1000) == 1);
    auto ready = set.ready();
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].token == What::Second);
    CHECK((ready[0].revents & POLLIN) != 0);

    REQUIRE(write(a_write.get(), "y", 1) == 1);
    REQUIRE(set.wait(1000) == 2);
    ready = set.ready();
    REQUIRE(ready.size() == 2);
    CHECK(ready[0].token == What::First);  // in the order they were added
    CHECK(ready[1].token == What::Second);

    set.clear();
    CHECK(set.wait(0) == 0);
}
