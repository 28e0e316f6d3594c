#!/usr/bin/env python3
"""Prints the sanitizer reports in a directory, symbolized here, and fails if there are any.

    scripts/sanitizer-reports.py .build-tsan/reports

The sanitized runs set symbolize=0: a sanitizer that symbolizes in the process starts
llvm-symbolizer as a helper that inherits the test runner's output pipe and outlives it, so
`swift test` waits for ever (CI once spent 40 minutes there and printed no report). The
reports keep each frame as (module+0xoffset); this script asks llvm-symbolizer for them, one
call per module, under a time limit, and prints the reports with function and line beside
each frame. Exit status: 0 when the directory holds no report, 1 otherwise.
"""

import os
import re
import shutil
import subprocess
import sys

FRAME = re.compile(r"\(([^()\s]+)\+(0x[0-9a-fA-F]+)\)")
MAX_LINES_PER_REPORT = 400


def symbolize(module, offsets):
    """Maps each offset to 'function file:line', as far as llvm-symbolizer can say in 120 s."""
    tool = shutil.which("llvm-symbolizer")
    if tool is None or not os.path.exists(module):
        return {}
    try:
        result = subprocess.run(
            [tool, "--obj=" + module, "--functions=linkage", "--demangle", "--inlining=false"],
            input="\n".join(offsets) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (subprocess.TimeoutExpired, OSError):
        return {}
    blocks = [block.splitlines() for block in result.stdout.strip().split("\n\n")]
    names = {}
    for offset, block in zip(offsets, blocks):
        if len(block) >= 2:
            names[offset] = block[0] + " " + block[1]
    return names


def demangle(text):
    """Swift's mangled names ($s...) made readable by swift-demangle, when it is there."""
    tool = shutil.which("swift-demangle")
    if tool is None:
        return text
    try:
        result = subprocess.run([tool, "--simplified"], input=text, capture_output=True, text=True, timeout=60)
    except (subprocess.TimeoutExpired, OSError):
        return text
    return result.stdout if result.returncode == 0 and result.stdout else text


def locate(module, texts, directory):
    """The file behind a module name: reports name a module by its path or by its base name
    alone; a base name is looked for in the report's paths, beside the sanitized build (the
    reports directory's parent) and among the Swift runtime's and the system's libraries."""
    if os.path.isabs(module):
        return module
    for text in texts:
        for path in re.findall(r"(/[^\s()]*/" + re.escape(module) + r")\+0x", text):
            if os.path.exists(path):
                return path
    build = os.path.dirname(os.path.abspath(directory))
    candidates = [os.path.join(build, triple, configuration, module)
                  for triple in (os.listdir(build) if os.path.isdir(build) else [])
                  for configuration in ("debug", "release")]
    swift = shutil.which("swift")
    if swift:
        toolchain = os.path.dirname(os.path.dirname(os.path.realpath(swift)))
        candidates.append(os.path.join(toolchain, "lib", "swift", "linux", module))
    candidates += [os.path.join(d, module) for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib")]
    return next((path for path in candidates if os.path.isfile(path)), module)


def main():
    directory = sys.argv[1]
    reports = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    if not reports:
        return 0
    texts = {}
    wanted = {}
    for name in reports:
        with open(os.path.join(directory, name), errors="replace") as handle:
            texts[name] = handle.read()
        for module, offset in FRAME.findall(texts[name]):
            wanted.setdefault(module, set()).add(offset)
    names = {}
    for module, offsets in wanted.items():
        ordered = sorted(offsets)
        for offset, text in symbolize(locate(module, texts.values(), directory), ordered).items():
            names[(module, offset)] = text

    def annotate(match):
        text = names.get((match.group(1), match.group(2)))
        return match.group(0) + ("  " + text if text else "")

    print(f"{len(reports)} sanitizer report(s) in {directory}:")
    for name in reports:
        lines = demangle(FRAME.sub(annotate, texts[name])).splitlines()
        print(f"==== {name} ({len(lines)} lines)")
        print("\n".join(lines[:MAX_LINES_PER_REPORT]))
        if len(lines) > MAX_LINES_PER_REPORT:
            print(f"... {len(lines) - MAX_LINES_PER_REPORT} more lines")
    return 1


if __name__ == "__main__":
    sys.exit(main())
