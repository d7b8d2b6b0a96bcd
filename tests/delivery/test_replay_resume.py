"""A replay rerun over the same outbox after a crash skips windows already there and keeps their
seq: no duplicate outbox rows, no burnt seqs, no false seq gaps in `bzagg nodes`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.delivery.helpers import (
    BZAGG,
    BZSCAN,
    Proc,
    outbox_rows,
    wait_until,
    write_jsonl_capture,
)


def test_rerun_after_sigkill_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 12)
    outbox, db = tmp_path / "o.sqlite3", tmp_path / "store.sqlite3"
    args = [BZSCAN, "--replay", str(cap), "--window", "1", "--node", "node-a", "--site",
            "site-1", "--outbox", str(outbox), "--no-progress"]  # fmt: skip
    first = Proc([*args, "--realtime"], tmp_path, "first")
    wait_until(lambda: outbox.exists() and len(outbox_rows(outbox)) >= 4, 20, "some windows")
    first.kill()  # a crash in the middle of the replay
    held = outbox_rows(outbox)
    assert 4 <= len(held) < 12
    subprocess.run(args, check=True, capture_output=True, cwd=tmp_path)
    rows = outbox_rows(outbox)
    seqs, starts = [s for s, _, _ in rows], [w for _, w, _ in rows]
    assert seqs == list(range(len(rows)))  # no seq burnt
    assert starts == sorted(set(starts))  # one row per window
    assert rows[: len(held)] == held  # the windows already there kept their rows and seqs
    ingest = subprocess.run([BZAGG, "ingest", str(outbox), "--db", str(db)], check=True,
                            capture_output=True, text=True)  # fmt: skip
    n = len(rows)
    # expected / stored / duplicated / rejected
    assert f"{n} windows, {n} stored, 0 already there, 0 rejected" in ingest.stdout
    out = subprocess.run([BZAGG, "nodes", "--db", str(db), "--json"], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    node = json.loads(out.splitlines()[0])
    assert (node["windows"], node["seq_gaps"], node["duplicates"]) == (n, 0, 0)
    assert node["acked_seq"] == n - 1 and node["unconfirmed_s"] == "-"
