// The Catch2 runner for every unit test. Run by hand as well as through `meson test`:
// what meson sets in the environment has a default here (the source tree's policies),
// and IASL defaults to `iasl` on the PATH (acpi_iasl_test.cpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

int main(int argc, char* argv[]) {
    setenv("BRIG_POLICY_DIR", BRIG_SOURCE_POLICY_DIR, /*overwrite=*/0);
    return Catch::Session().run(argc, argv);
}
