/*
 * PVH entry point. The loader leaves us in flat 32-bit protected mode with paging
 * off and EBX = physical address of struct hvm_start_info. Nothing else can be
 * relied on: there is no stack, so set one up before calling into C.
 */

#define BOOT_STACK_BYTES 16384

	.section .text.entry, "ax", @progbits
	.code32
	.globl pvh_entry
	.type pvh_entry, @function
pvh_entry:
	/* The PVH ABI already says interrupts are off; make it true regardless of loader. */
	cli
	/* The C code assumes forward string operations (the SysV ABI does too). */
	cld
	movl $boot_stack_top, %esp
	/* Clear .bss with plain stores (see linker.ld); EBX is kept for guest_main. */
	movl $bss_start, %edi
	xorl %eax, %eax
2:	cmpl $bss_end, %edi
	jae 3f
	movl %eax, (%edi)
	addl $4, %edi
	jmp 2b
3:
	/* Zero EBP so a debugger's backtrace stops here. */
	xorl %ebp, %ebp
	pushl %ebx			/* pvh_main(const struct hvm_start_info *) */
	call pvh_main
	/* pvh_main never returns; if it did, stop here rather than run off the end. */
1:	cli
	hlt
	jmp 1b
	.size pvh_entry, . - pvh_entry

	.section .stack, "aw", @nobits
	.balign 16
boot_stack_bottom:
	.skip BOOT_STACK_BYTES
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
