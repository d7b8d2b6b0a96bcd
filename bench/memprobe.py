"""Where a long-running process's memory goes: a diagnostic for bench/soak.py.

    BZ_MEMPROBE=/tmp/probe python -m bench.memprobe bzagg serve ...   # wraps a console script
    BZ_MEMPROBE=/tmp/probe python bench/soak.py --memprobe ...          # both soak processes

With BZ_MEMPROBE set, `start()` turns on tracemalloc and a daemon thread appends one JSON line
every BZ_MEMPROBE_S seconds (default 5) to `<prefix>-<role>-<pid>.jsonl`: the RSS split from
/proc/self/smaps_rollup (anonymous, file, shmem), what tracemalloc traces (the Python heap),
SQLite's own allocator (sqlite3_memory_used), glibc's malloc (mallinfo2: arena bytes, in use,
free, mmapped) and its number of arenas (malloc_info). At the first sample after
BZ_MEMPROBE_BASE_S (default 10 s, one simulated hour of the soak) it keeps a tracemalloc
snapshot; at exit it writes the top allocation growth since then to `<prefix>-<role>-<pid>.top`.
Python-heap growth there is a leak or an unbounded container; RSS growth with a flat Python
heap is the allocator, SQLite's page cache or mapped files.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import gc
import json
import os
import re
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]  # fmt: skip


def mallinfo() -> dict[str, int]:
    try:
        f = _libc.mallinfo2
    except AttributeError:
        return {}
    f.restype = _Mallinfo2
    m = f()
    return {"arena": m.arena, "mmapped": m.hblkhd, "in_use": m.uordblks, "free": m.fordblks}


def arenas() -> int:
    """How many glibc malloc arenas exist (one per thread that ever malloc'ed under contention,
    up to 8 x cores); from malloc_info's XML."""
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    _libc.open_memstream.restype = ctypes.c_void_p
    stream = _libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        return -1
    _libc.malloc_info(0, ctypes.c_void_p(stream))
    _libc.fclose(ctypes.c_void_p(stream))
    xml = (buf.value or b"").decode()
    _libc.free(buf)
    return len(re.findall(r'<heap nr="\d+">', xml))


def sqlite_memory() -> dict[str, int]:
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return {}
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    lib.sqlite3_memory_highwater.restype = ctypes.c_int64
    return {"used": lib.sqlite3_memory_used(), "highwater": lib.sqlite3_memory_highwater(0)}


def smaps() -> dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    except OSError:
        pass
    return {k: out.get(k, 0) for k in ("Rss", "Anonymous", "Shared_Clean", "Private_Clean",
                                       "Shared_Dirty", "Private_Dirty")}  # fmt: skip


def sample(t0: float) -> dict[str, Any]:
    cur, peak = tracemalloc.get_traced_memory()
    status = Path("/proc/self/status").read_text()
    shmem = re.search(r"RssShmem:\s+(\d+)", status)
    return {
        "t": round(time.time() - t0, 1), "smaps_kib": smaps(),
        "rss_shmem_kib": int(shmem.group(1)) if shmem else 0,
        "py_traced": cur, "py_peak": peak, "sqlite": sqlite_memory(), "malloc": mallinfo(),
        "arenas": arenas(), "threads": threading.active_count(),
        "py_blocks": sys.getallocatedblocks(), "gc_counts": gc.get_count(),
        **({"types": Counter(type(o).__qualname__ for o in gc.get_objects()).most_common(12)}
           if os.environ.get("BZ_MEMPROBE_TYPES") else {}),
    }  # fmt: skip


def start(role: str) -> None:
    prefix = os.environ.get("BZ_MEMPROBE")
    if not prefix:
        return
    every = float(os.environ.get("BZ_MEMPROBE_S", "5"))
    base_after = float(os.environ.get("BZ_MEMPROBE_BASE_S", "10"))
    stem = f"{prefix}-{role}-{os.getpid()}"
    trace = os.environ.get("BZ_MEMPROBE_TRACE", "1") != "0"  # tracemalloc costs CPU and RSS
    if trace:
        tracemalloc.start(int(os.environ.get("BZ_MEMPROBE_FRAMES", "6")))
    t0 = time.time()
    base: list[tracemalloc.Snapshot] = []
    every_top = float(os.environ.get("BZ_MEMPROBE_TOP_S", "0"))
    last = [0.0]

    def loop() -> None:
        with open(stem + ".jsonl", "a") as f:
            while True:
                time.sleep(every)
                f.write(json.dumps(sample(t0)) + "\n")
                f.flush()
                if trace and not base and time.time() - t0 >= base_after:
                    base.append(tracemalloc.take_snapshot())
                elif trace and base and every_top and time.time() - last[0] >= every_top:
                    last[0] = time.time()
                    report()  # the process may be SIGKILLed or SIGTERMed without atexit

    def report() -> None:
        if not base:
            return
        snap = tracemalloc.take_snapshot()
        kinds = Counter(type(o).__qualname__ for o in gc.get_objects())
        with open(stem + ".top", "w") as f:
            f.write(f"{role}: growth since t={base_after:.0f}s, now t={time.time() - t0:.0f}s "
                    f"(traced now {tracemalloc.get_traced_memory()[0] / 1e6:.1f} MB)\n"
                    f"objects: {kinds.most_common(25)}\n")  # fmt: skip
            for key in ("lineno", "traceback"):
                f.write(f"\n== by {key}\n")
                for st in snap.compare_to(base[0], key)[:25]:
                    f.write(f"{st.size_diff / 1024:+9.1f} KiB {st.count_diff:+7d}  "
                            f"(now {st.size / 1024:.1f} KiB)\n")  # fmt: skip
                    lines = st.traceback.format() if key == "traceback" else [str(st.traceback)]
                    f.write("".join(f"      {x}\n" for x in lines[-12:]))

    threading.Thread(target=loop, name="memprobe", daemon=True).start()
    atexit.register(report)


if __name__ == "__main__":
    # Wrap a console script: python -m bench.memprobe bzagg serve ...
    from importlib.metadata import entry_points

    name = sys.argv[1]
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == name]
    start(name)
    sys.argv = sys.argv[1:]
    sys.exit(ep.load()())
