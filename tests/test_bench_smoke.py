"""The benchmark code runs end to end on tiny repositories, so it cannot rot. No timing is
asserted here (speed is measured only by bench/run.py): only that every row is produced."""

from __future__ import annotations

import json
from pathlib import Path

from bench import run as bench


def test_benchmark_runs_and_writes_every_row(tmp_path: Path, capsys) -> None:
    out = tmp_path / "latest.json"

    code = bench.main(["--sizes", "20", "50", "--repeat", "1", "--json", str(out),
                       "--workdir", str(tmp_path / "work")])

    assert code in (0, 1)  # 1 only says a target was missed on this machine
    data = json.loads(out.read_text())
    rows = {(r["benchmark"], r["n"]) for r in data["rows"]}
    assert rows == {
        ("start-up", None),
        ("nothing due", 20), ("nothing due", 50),
        ("full check", 20), ("full check", 50),
        ("full check, one post edited", 20), ("full check, one post edited", 50),
        ("full check, cold (--no-cache)", 20), ("full check, cold (--no-cache)", 50),
        ("growth: nothing due", 50), ("growth: full check", 50),
        ("requests: mastodon requests", 20), ("requests: mastodon media polls", 20),
        ("requests: mastodon instance", 20), ("requests: x requests", 20),
    }
    for row in data["rows"]:
        assert row["ours"] > 0 or row["unit"] == "requests"
        assert set(row) == {"benchmark", "n", "ours", "floor", "ratio", "target", "met", "unit"}
        assert (row["met"] is None) == row["benchmark"].startswith("full check, cold")
    assert {"nproc", "cpu", "python"} <= set(data["machine"])
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ["benchmark", "N", "ours", "floor", "ratio",
                                               "target", "met"]
    assert "requests: x requests" in printed
