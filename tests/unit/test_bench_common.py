"""What every benchmark shares: a run that cannot measure says why in one line and exits with 1."""

from __future__ import annotations

import argparse

import pytest

from bench.common import BenchFailed, bench_parser, run_bench


def _parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    monkeypatch.setattr("sys.argv", ["bench.example", "--no-write"])
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
        return 0 if args.no_write else 2

    with pytest.raises(SystemExit) as exited:
        run_bench(_parser(monkeypatch), run)
    assert exited.value.code == 0
