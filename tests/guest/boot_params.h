/*
 * The parts of the Linux x86 boot protocol (Documentation/arch/x86/boot.rst and
 * Documentation/arch/x86/zero-page.rst) this guest uses, as byte offsets: the
 * setup header sits at the same offsets (0x1f1..) in the bzImage file and in
 * struct boot_params, so bzimage_header.S and linux64_boot.c share them.
 * Usable from C and from assembly.
 */
#pragma once

/* struct boot_params ("zero page") fields outside the setup header. */
#define BOOT_PARAMS_SIZE 0x1000
#define BP_ACPI_RSDP_ADDR 0x070     /* u64, protocol 2.14 */
#define BP_EXT_RAMDISK_IMAGE 0x0c0  /* u32, high half of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE 0x0c4   /* u32, high half of ramdisk_size */
#define BP_EXT_CMD_LINE_PTR 0x0c8   /* u32, high half of cmd_line_ptr */
#define BP_E820_ENTRIES 0x1e8       /* u8 */
#define BP_E820_TABLE 0x2d0         /* struct boot_e820_entry[128] */
#define BP_E820_MAX_ENTRIES 128
#define BP_E820_ENTRY_SIZE 20       /* packed: u64 addr, u64 size, u32 type */

/* Setup header fields (struct setup_header, starting at 0x1f1). */
#define BP_HDR_SETUP_SECTS 0x1f1
#define BP_HDR_BOOT_FLAG 0x1fe
#define BP_HDR_JUMP 0x200
#define BP_HDR_HEADER 0x202
#define BP_HDR_VERSION 0x206
#define BP_HDR_RAMDISK_IMAGE 0x218
#define BP_HDR_RAMDISK_SIZE 0x21c
#define BP_HDR_CMD_LINE_PTR 0x228
#define BP_HDR_END_2_15 0x26c       /* just past kernel_info_offset (protocol 2.15) */

#define BP_BOOT_FLAG 0xaa55
#define BP_HEADER_MAGIC 0x53726448  /* "HdrS" */
#define BP_PROTOCOL_VERSION 0x020f  /* 2.15, the version this guest's header implements */

/* loadflags and xloadflags bits. */
#define BP_LOADED_HIGH 0x01
#define BP_XLF_KERNEL_64 0x0001

/* The 64-bit entry point's offset into the protected-mode part (startup_64). */
#define BP_ENTRY64_OFFSET 0x200
