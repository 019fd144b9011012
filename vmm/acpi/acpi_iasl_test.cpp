// Independent validation: ACPICA's iasl, the reference implementation, must
// accept every table brig builds and read back what brig meant to write. iasl is
// required (Debian acpica-tools); without it these tests fail rather than skip,
// so a missing tool can never pass for valid tables.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vmm/acpi/acpi_tables.h"
#include "vmm/acpi/acpi_test_support.h"
#include "vmm/memory/layout.h"

extern char** environ;

using namespace brig::acpi;
using namespace brig::acpi::test;
namespace fs = std::filesystem;

namespace {

constexpr size_t kHeaderSize = 36;

class TempDir {
public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/brig-acpi-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) {
            FAIL("mkdtemp " << pattern << ": " << std::strerror(errno));
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string iasl_program() {
    const char* from_env = std::getenv("IASL");
    return from_env && *from_env ? from_env : "iasl";
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_bytes(const fs::path& path, std::span<const uint8_t> bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// Runs iasl with `args`; REQUIREs that it could be started and exited 0. Its
// console output goes to a log in `dir` and is shown when it fails.
void run_iasl(const fs::path& dir, const std::vector<std::string>& args) {
    const std::string program = iasl_program();
    const fs::path log = dir / "iasl.log";
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    const int spawn_error = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawn_error != 0) {
        FAIL("cannot run iasl as \"" << program << "\": " << std::strerror(spawn_error)
                                     << " (install acpica-tools or point IASL at the binary)");
    }

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        REQUIRE(errno == EINTR);
    }
    INFO("iasl output:\n" << read_text(log));
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}

// Writes the table to <dir>/<signature>.dat, disassembles it, returns the .dsl text.
std::string disassemble(const TempDir& dir, const AcpiBlob& blob, std::string_view signature) {
    const fs::path dat = dir.path() / (std::string(signature) + ".dat");
    write_bytes(dat, table_bytes(blob, signature));
    run_iasl(dir.path(), {"-d", dat.string()});
    fs::path dsl = dat;
    dsl.replace_extension(".dsl");
    REQUIRE(fs::exists(dsl));
    return read_text(dsl);
}

size_t count(const std::string& haystack, std::string_view needle) {
    size_t found = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) {
        ++found;
    }
    return found;
}

// iasl recompiles the DSDT it disassembled into `dir` (DSDT.dsl) to the very bytes
// brig built. -on keeps "\_SB_" as written instead of shortening it to "_SB_".
void check_recompiles_identically(const TempDir& dir, const AcpiBlob& blob) {
    const fs::path recompiled = dir.path() / "recompiled";
    run_iasl(dir.path(), {"-on", "-p", recompiled.string(), (dir.path() / "DSDT.dsl").string()});

    const std::string aml = read_text(dir.path() / "recompiled.aml");
    const auto original = table_bytes(blob, "DSDT");
    // The header differs by design (compiler id, checksum); compare the AML body.
    REQUIRE(aml.size() == original.size());
    CHECK(std::equal(original.begin() + kHeaderSize, original.end(),
                     reinterpret_cast<const uint8_t*>(aml.data()) + kHeaderSize));
}

}  // namespace

TEST_CASE("iasl disassembles every table brig builds", "[acpi][iasl]") {
    TempDir dir;
    const AcpiBlob blob = build_acpi_tables(config_with_virtio(4, 2));
    // iasl reads only SDT-headed tables, so the RSDP is left to acpi_tables_test.cpp.
    for (std::string_view signature : {"XSDT", "FACP", "APIC", "DSDT"}) {
        INFO("table " << signature);
        const std::string dsl = disassemble(dir, blob, signature);
        CHECK(dsl.find("\"" + std::string(signature) + "\"") != std::string::npos);
    }
}

TEST_CASE("iasl reads the DSDT's devices and _S5", "[acpi][iasl]") {
    TempDir dir;
    const std::string with_virtio = disassemble(dir, build_acpi_tables(config_with_virtio(1, 2)), "DSDT");
    CHECK(count(with_virtio, "EisaId (\"PNP0501\")") == 1);
    CHECK(count(with_virtio, "Name (_HID, \"LNRO0005\")") == 2);
    CHECK(count(with_virtio, "Memory32Fixed (ReadWrite,\n                    0xD0001000,") == 1);
    CHECK(count(with_virtio, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive") == 2);
    CHECK(count(with_virtio, "IRQNoFlags ()\n                    {4}") == 1);
    CHECK(with_virtio.find("Scope (\\_SB)") != std::string::npos);
    // iasl drops trailing underscores from names and annotates the original.
    CHECK(with_virtio.find("Name (_S5, Package (0x04)  // _S5_") != std::string::npos);

    TempDir plain_dir;
    const std::string plain =
        disassemble(plain_dir, build_acpi_tables(AcpiConfig{.num_cpus = 1, .com1 = false, .virtio_mmio = {}}), "DSDT");
    CHECK(plain.find("PNP0501") == std::string::npos);
    CHECK(plain.find("LNRO0005") == std::string::npos);
    CHECK(plain.find("_S5_") != std::string::npos);
}

TEST_CASE("iasl recompiles the disassembled DSDT to the very same AML", "[acpi][iasl]") {
    // The strongest check available: ACPICA's own compiler, given ACPICA's reading
    // of brig's AML, emits byte-identical AML. -on keeps "\_SB_" as written instead
    // of shortening it to the equivalent "_SB_".
    TempDir dir;
    const AcpiBlob blob = build_acpi_tables(config_with_virtio(2, 3));
    disassemble(dir, blob, "DSDT");
    check_recompiles_identically(dir, blob);
}

TEST_CASE("iasl sees one Processor Local APIC per vCPU", "[acpi][iasl]") {
    const unsigned cpus = GENERATE(1u, 4u);
    TempDir dir;
    const std::string dsl =
        disassemble(dir, build_acpi_tables(AcpiConfig{.num_cpus = cpus, .com1 = true, .virtio_mmio = {}}), "APIC");
    CHECK(count(dsl, "[Processor Local APIC]") == cpus);
    CHECK(count(dsl, "[I/O APIC]") == 1);
    CHECK(count(dsl, "[Interrupt Source Override]") == 1);
    CHECK(count(dsl, "[Local APIC NMI]") == 1);
    CHECK(dsl.find("Local Apic Address : FEE00000") != std::string::npos);
}

TEST_CASE("iasl decodes the FADT as hardware reduced with reset support", "[acpi][iasl]") {
    TempDir dir;
    const std::string dsl = disassemble(dir, build_acpi_tables(AcpiConfig{}), "FACP");
    CHECK(dsl.find("Hardware Reduced (V5) : 1") != std::string::npos);
    CHECK(dsl.find("Reset Register Supported (V2) : 1") != std::string::npos);
    CHECK(dsl.find("VGA Not Present (V4) : 1") != std::string::npos);
    CHECK(dsl.find("Value to cause reset : 01") != std::string::npos);
    for (uint16_t port :
         {brig::layout::kAcpiSleepControlPort, brig::layout::kAcpiSleepStatusPort, brig::layout::kAcpiResetPort}) {
        char expected[40];
        std::snprintf(expected, sizeof expected, "Address : %016X", static_cast<unsigned>(port));
        CHECK(dsl.find(expected) != std::string::npos);
    }
}

TEST_CASE("iasl reads the pvpanic device: QEMU0001 on port 0x505", "[acpi][iasl]") {
    TempDir dir;
    AcpiConfig config = config_with_virtio(1, 0);
    config.pvpanic = true;
    const std::string dsl = disassemble(dir, build_acpi_tables(config), "DSDT");
    CHECK(count(dsl, "Name (_HID, \"QEMU0001\")") == 1);
    CHECK(count(dsl, "IO (Decode16,\n                    0x0505,") == 1);
    TempDir plain_dir;
    CHECK(disassemble(plain_dir, build_acpi_tables(config_with_virtio(1, 0)), "DSDT").find("QEMU0001") ==
          std::string::npos);
}

TEST_CASE("iasl reads the power button: a Generic Event Device notifying PNP0C0C, and recompiles it", "[acpi][iasl]") {
    TempDir dir;
    AcpiConfig config = config_with_virtio(1, 1);
    config.power_button_gsi = 21;
    const AcpiBlob blob = build_acpi_tables(config);
    const std::string dsl = disassemble(dir, blob, "DSDT");
    CHECK(count(dsl, "Name (_HID, \"ACPI0013\" /* Generic Event Device */)") == 1);
    CHECK(count(dsl, "Name (_HID, EisaId (\"PNP0C0C\") /* Power Button Device */)") == 1);
    CHECK(count(dsl, "Method (_EVT, 1, NotSerialized)") == 1);
    CHECK(count(dsl, "If ((Arg0 == 0x15))") == 1);
    CHECK(count(dsl, "Notify (\\_SB.PWRB, 0x80)") == 1);
    CHECK(count(dsl, "0x00000015,") == 1);  // the GED's interrupt

    check_recompiles_identically(dir, blob);
}

TEST_CASE("iasl reads COM1..COM4: PNP0501 at 0x3f8/4, 0x2f8/3, 0x3e8/4, 0x2e8/3, and recompiles them", "[acpi][iasl]") {
    TempDir dir;
    AcpiConfig config = config_with_virtio(1, 0);
    config.serial_ports = {2, 3, 4};
    const AcpiBlob blob = build_acpi_tables(config);
    const std::string dsl = disassemble(dir, blob, "DSDT");
    CHECK(count(dsl, "EisaId (\"PNP0501\")") == 4);
    for (const char* port : {"0x03F8", "0x02F8", "0x03E8", "0x02E8"})
        CHECK(count(dsl, std::string("IO (Decode16,\n                    ") + port + ",") == 1);
    CHECK(count(dsl, "IRQNoFlags ()\n                    {4}") == 2);
    CHECK(count(dsl, "IRQNoFlags ()\n                    {3}") == 2);
    for (const char* uid : {"Name (_UID, Zero)", "Name (_UID, One)", "Name (_UID, 0x02)", "Name (_UID, 0x03)"})
        CHECK(count(dsl, uid) == 1);
    check_recompiles_identically(dir, blob);
}
