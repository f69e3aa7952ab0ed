#!/usr/bin/env python3
"""The dependency rule between Reaper's libraries, checked on the built binaries.

  base  <-  node  <-  runtime, shim, agent
  base  <-  kube  <-  controller, agent

The controller must contain no symbol defined by the node library (mounts, overlay, process
spawning), and the node binaries (reaper-runtime, the shim) no symbol defined by the Kubernetes
client library and no libcurl at all. A symbol counts when the binary defines it or needs it.
Usage: check_layers.py LIBNODE.a LIBKUBE.a CONTROLLER RUNTIME SHIM
"""
import subprocess
import sys


def nm(path, *flags):
    out = subprocess.run(["nm", *flags, path], check=True, capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.endswith(":"):
            syms.add(parts[-1])
    return syms


def defined(lib):
    """Global functions and data a static library defines."""
    return nm(lib, "--defined-only", "--extern-only")


def used(binary):
    """Every symbol a binary defines (static linking copies them in) or imports."""
    syms = nm(binary)
    try:
        syms |= nm(binary, "-D")
    except subprocess.CalledProcessError:  # a static binary has no dynamic symbol table
        pass
    return syms


def violations(binary, forbidden, prefixes=()):
    syms = used(binary)
    bad = sorted(s for s in syms if s in forbidden or s.startswith(prefixes))
    return bad


def main(libnode, libkube, controller, runtime, shim):
    node_syms, kube_syms = defined(libnode), defined(libkube)
    assert node_syms and kube_syms, "library symbol tables are empty: wrong paths?"
    checks = [
        (controller, node_syms, (), "node runtime library"),
        (runtime, kube_syms, ("curl_",), "Kubernetes client library or libcurl"),
        (shim, kube_syms, ("curl_",), "Kubernetes client library or libcurl"),
    ]
    failed = 0
    for binary, forbidden, prefixes, what in checks:
        bad = violations(binary, forbidden, prefixes)
        name = binary.rsplit("/", 1)[-1]
        if bad:
            failed += 1
            print(f"FAIL {name} links the {what}: {', '.join(bad[:20])}")
        else:
            print(f"ok   {name}: nothing from the {what}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
