"""What every benchmark shares: a run that cannot measure says why in one line and exits with 1."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.common import BenchFailed, bench_parser, publish, results_file, run_bench, table


def _parser(monkeypatch: pytest.MonkeyPatch, *argv: str) -> argparse.ArgumentParser:
    monkeypatch.setattr("sys.argv", ["bench.example", *argv])
    return bench_parser("an example")


def test_a_bench_that_cannot_measure_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run(args: argparse.Namespace) -> int:
        raise BenchFailed("3 of 5 tasks were submitted within 60 s")

    with pytest.raises(SystemExit) as exited:
        run_bench(_parser(monkeypatch), run)
    assert exited.value.code == 1
    assert capsys.readouterr().err == "bench.example: 3 of 5 tasks were submitted within 60 s\n"


def test_a_bench_exits_with_what_its_run_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run(args: argparse.Namespace) -> int:
        return 0 if not args.write else 2

    with pytest.raises(SystemExit) as exited:
        run_bench(_parser(monkeypatch), run)
    assert exited.value.code == 0


def test_a_bench_prints_its_table_and_writes_the_results_only_with_write(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n", encoding="utf-8")
    figures = table("Example", [("figure", "1.0 ms", "a note")])

    args = _parser(monkeypatch, "--results", str(results)).parse_args()
    publish("example", figures, results_file(args))
    assert "| figure | 1.0 ms | a note |" in capsys.readouterr().out
    assert results.read_text(encoding="utf-8") == "# Benchmark results\n"  # a plain run changes nothing

    args = _parser(monkeypatch, "--results", str(results), "--write").parse_args()
    publish("example", figures, results_file(args))
    written = results.read_text(encoding="utf-8")
    assert written.startswith("# Benchmark results\n")
    assert "<!-- bench:example -->\n### Example" in written and "| figure | 1.0 ms | a note |" in written
