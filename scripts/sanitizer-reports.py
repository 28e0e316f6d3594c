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
        for offset, text in symbolize(module, ordered).items():
            names[(module, offset)] = text

    def annotate(match):
        text = names.get((match.group(1), match.group(2)))
        return match.group(0) + ("  " + text if text else "")

    print(f"{len(reports)} sanitizer report(s) in {directory}:")
    for name in reports:
        lines = FRAME.sub(annotate, texts[name]).splitlines()
        print(f"==== {name} ({len(lines)} lines)")
        print("\n".join(lines[:MAX_LINES_PER_REPORT]))
        if len(lines) > MAX_LINES_PER_REPORT:
            print(f"... {len(lines) - MAX_LINES_PER_REPORT} more lines")
    return 1


if __name__ == "__main__":
    sys.exit(main())
