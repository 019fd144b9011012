#!/usr/bin/env python3
"""Checks the include rules that keep brig's components apart.

Every quoted include names its component from the one include root
("ipc/virtio/virtqueue.h"), and the dependency arrows run one way:
  base              includes only itself (generic: fds, errors, eventfds, signal-safe text);
  minijail-wrapper  includes itself and base (it knows nothing else of brig);
  ipc               includes itself, base and minijail-wrapper;
  device-procs      includes itself, base, ipc and minijail-wrapper, never vmm;
  policy-tool       includes itself, base, ipc, minijail-wrapper and, of vmm, only
                    vmm/sandbox/sandbox_files.h (find_policy_dir: the directory brig run loads);
  vmm               includes base, ipc, minijail-wrapper and device-procs; of policy-tool,
                    only vmm/main.cpp includes policy-tool/policy_command.h (`brig policy`).
An entry with a '/' allows that one file, not its whole component.
Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import subprocess
import sys

ALLOWED = {
    'base': {'base'},
    'minijail-wrapper': {'base', 'minijail-wrapper'},
    'ipc': {'base', 'ipc', 'minijail-wrapper'},
    'device-procs': {'base', 'device-procs', 'ipc', 'minijail-wrapper'},
    'policy-tool': {'base', 'policy-tool', 'ipc', 'minijail-wrapper', 'vmm/sandbox/sandbox_files.h'},
    'vmm': {'base', 'vmm', 'ipc', 'minijail-wrapper', 'device-procs'},
    'tests': {'base', 'tests', 'vmm', 'ipc', 'minijail-wrapper', 'device-procs', 'policy-tool'},
    'bench': {'base', 'bench', 'vmm', 'ipc', 'minijail-wrapper', 'device-procs'},
}
# Single files allowed more than their component: main() dispatches `brig policy` to the tool.
ALSO_ALLOWED = {
    'vmm/main.cpp': {'policy-tool/policy_command.h'},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    files = subprocess.check_output(['git', '-C', root, 'ls-files'], text=True).split()
    known = set(files)
    failures = []
    for path in files:
        component = path.split('/')[0]
        if component not in ALLOWED or not path.endswith(('.h', '.cpp')):
            continue
        if path.startswith('tests/guest/'):
            continue  # the freestanding guest has its own flat include dir
        with open(os.path.join(root, path), encoding='utf-8') as f:
            text = f.read()
        for included in INCLUDE.findall(text):
            target = included.split('/')[0]
            if included in ('ipc/device.capnp.h', 'ipc/vm_control.capnp.h'):
                pass  # generated into the build root
            elif included not in known:
                failures.append(f'{path}: "{included}" is not a path from the include root')
                continue
            allowed = ALLOWED[component] | ALSO_ALLOWED.get(path, set())
            if target not in allowed and included not in allowed:
                failures.append(f'{path}: {component}/ may not include {included}')
    for line in failures:
        print(line)
    print(f'layering: {len(failures)} violation(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
