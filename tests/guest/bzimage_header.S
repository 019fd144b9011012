/*
 * The bzImage setup area: boot sector + setup sectors, with the setup header of
 * the Linux x86 boot protocol 2.15 (Documentation/arch/x86/boot.rst) at 0x1f1.
 * bzimage.ld places it just below the protected-mode part, so objcopy -O binary
 * emits it at file offset 0 and the payload at (setup_sects + 1) * 512.
 *
 * There is NO real-mode code: brig (and this test guest) use only the 64-bit
 * entry point, which skips the setup code entirely. The boot sector is zeroes
 * and the jump at 0x200 lands on a 16-bit halt loop, so a loader that does enter
 * the real-mode setup (QEMU's -kernel, GRUB's linux16) just halts.
 */
#include "boot_params.h"

/* One setup sector: the header fits in it, and nothing else is needed. */
#define SETUP_SECTS 1
#define SECTOR_SIZE 512

/* The protected-mode part runs where it is loaded; the linker script links it there. */
#define LOAD_ADDRESS 0x100000
#define KERNEL_ALIGNMENT 0x1000     /* log2 in min_alignment below */
#define MIN_ALIGNMENT_LOG2 12
#define INITRD_ADDR_MAX 0x7fffffff  /* what Linux declares too */
#define CMDLINE_SIZE 2047           /* Linux's x86 COMMAND_LINE_SIZE - 1 */
#define VID_MODE_NORMAL 0xffff

	.section .setup, "a", @progbits
	.code16
setup_start:
	.org BP_HDR_SETUP_SECTS
	.byte SETUP_SECTS
	.word 0				/* root_flags */
	.long bzimage_syssize		/* syssize: protected-mode part in 16-byte units (bzimage.ld) */
	.word 0				/* ram_size (obsolete) */
	.word VID_MODE_NORMAL		/* vid_mode */
	.word 0				/* root_dev */
	.word BP_BOOT_FLAG		/* boot_flag, 0x1fe */
	/* jump (0x200): its displacement also tells loaders where the header ends. */
	.byte 0xeb, setup_halt - header_signature
header_signature:
	.long BP_HEADER_MAGIC		/* header, 0x202: "HdrS" */
	.word BP_PROTOCOL_VERSION	/* version, 0x206 */
	.long 0				/* realmode_swtch */
	.word 0				/* start_sys_seg (obsolete) */
	.word kernel_version - setup_start - 0x200 /* kernel_version, 0x20e */
	.byte 0				/* type_of_loader: the loader fills it in */
	.byte BP_LOADED_HIGH		/* loadflags: protected-mode part at 1 MiB */
	.word 0				/* setup_move_size */
	.long LOAD_ADDRESS		/* code32_start */
	.long 0				/* ramdisk_image, 0x218: loader */
	.long 0				/* ramdisk_size, 0x21c: loader */
	.long 0				/* bootsect_kludge */
	.word 0				/* heap_end_ptr: no real-mode heap */
	.byte 0				/* ext_loader_ver */
	.byte 0				/* ext_loader_type */
	.long 0				/* cmd_line_ptr, 0x228: loader */
	.long INITRD_ADDR_MAX		/* initrd_addr_max */
	.long KERNEL_ALIGNMENT		/* kernel_alignment */
	.byte 0				/* relocatable_kernel: no, linked at 1 MiB */
	.byte MIN_ALIGNMENT_LOG2	/* min_alignment */
	.word BP_XLF_KERNEL_64		/* xloadflags: 64-bit entry at load address + 0x200 */
	.long CMDLINE_SIZE		/* cmdline_size */
	.long 0				/* hardware_subarch: default PC */
	.quad 0				/* hardware_subarch_data */
	.long 0				/* payload_offset: nothing is compressed */
	.long 0				/* payload_length */
	.quad 0				/* setup_data */
	.quad LOAD_ADDRESS		/* pref_address */
	.long bzimage_init_size		/* init_size: image + .bss + stack (bzimage.ld) */
	.long 0				/* handover_offset: no EFI handover */
	.long kernel_info - LOAD_ADDRESS /* kernel_info_offset, from the protected-mode start */
	/* bzimage.ld checks that this is at offset 0x26c: every field above is in place. */
	.globl bzimage_setup_header_end
bzimage_setup_header_end:

	/* Where the jump goes: not setup code, just a stop (see the top of this file). */
setup_halt:
	cli
1:	hlt
	jmp 1b

kernel_version:
	.asciz "brig-test-guest (bzImage, 64-bit entry only)"

	.org (SETUP_SECTS + 1) * SECTOR_SIZE

/* Protocol 2.15 kernel_info, located through kernel_info_offset; no variable data. */
	.section .rodata.kernel_info, "a", @progbits
	.balign 4
kernel_info:
	.ascii "LToP"			/* header */
	.long kernel_info_end - kernel_info /* size */
	.long kernel_info_end - kernel_info /* size_total */
	.long 0				/* setup_type_max: no setup_data types used */
kernel_info_end:

	.section .note.GNU-stack, "", @progbits
