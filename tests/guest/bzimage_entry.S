/*
 * bzImage entry points, at the start of the protected-mode part (loaded at 1 MiB).
 *
 * Offset 0x200 is startup_64, the Linux 64-bit boot protocol entry (boot.rst): the
 * loader leaves us in long mode on an identity map, with a flat __BOOT_CS code
 * segment, interrupts off and RSI = physical address of struct boot_params. The
 * loader's stack, GDT and page tables may sit anywhere in low memory the kernel
 * does not own, so set up our own stack before calling into C (the GDT and page
 * tables are kept: this guest never reloads a segment or touches low memory).
 *
 * Offset 0 is where Linux has startup_32; this guest has no 32-bit entry and just halts.
 */
#include "boot_params.h"

#define BOOT_STACK_BYTES 16384

	.section .text.head32, "ax", @progbits
	.code32
startup_32:
	cli
1:	hlt
	jmp 1b

	.section .text.entry64, "ax", @progbits
	.code64
	.globl startup_64
	.type startup_64, @function
startup_64:
	cli
	/* The C code assumes forward string operations (the SysV ABI does too). */
	cld
	/* 16-byte aligned, so the call below leaves RSP as the x86-64 ABI expects. */
	movq $boot_stack_top, %rsp
	/* Clear .bss with plain stores (see bzimage.ld); RSI is kept for linux64_main. */
	movq $bss_start, %rdi
	xorl %eax, %eax
2:	cmpq $bss_end, %rdi
	jae 3f
	movq %rax, (%rdi)
	addq $8, %rdi
	jmp 2b
3:
	/* Zero RBP so a debugger's backtrace stops here. */
	xorl %ebp, %ebp
	movq %rsi, %rdi			/* linux64_main(uint64_t boot_params_paddr) */
	call linux64_main
	/* linux64_main never returns; if it did, stop here rather than run off the end. */
1:	cli
	hlt
	jmp 1b
	.size startup_64, . - startup_64

	.section .stack, "aw", @nobits
	.balign 16
boot_stack_bottom:
	.skip BOOT_STACK_BYTES
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
