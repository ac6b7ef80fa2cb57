"""Bad usage is one line and one exit status (2), before any work; frame sizes the machine
cannot hold are refused up front."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_cli


@pytest.mark.parametrize("args, says", [
    (["convert", "--batch", "0"], "--batch: must be at least 1"),
    (["convert", "--batch", "-3"], "--batch: must be at least 1"),
    (["convert", "--crf", "99"], "--crf: must be between 0 and 63"),
    (["convert", "--crf", "-1"], "--crf: must be between 0 and 63"),
    (["convert", "--height", "0"], "--height: must be at least 1"),
    (["convert", "--scale", "nan"], "--scale: must be a finite number above 0"),
    (["stream", "x.mp4", "--out", "o.ts", "--duration", "nan"], "--duration: must be a finite number above 0"),
    (["stream", "x.mp4", "--out", "o.ts", "--timeout", "0"], "--timeout: must be a finite number above 0"),
    (["stream", "x.mp4", "--out", "o.ts", "--timeout", "-1"], "--timeout: must be a finite number above 0"),
    (["stream", "0", "--out", "o.ts", "--camera-fps", "-3"], "--camera-fps: must be a finite number above 0"),
    (["serve", "--keep-jobs", "1e400"], "--keep-jobs: must be a finite number above 0"),
    (["convert", "--strength", "3"], "--strength must be between 0 and 1"),  # checked past argparse, same status
    (["convert", "--infer-scale", "9"], "--infer-scale must be between"),
    (["export", "--batch", "0"], "--batch: must be at least 1"),
])
def test_bad_options_are_usage_errors(tmp_path, monkeypatch, capsys, args, says):
    """In-process (`cli.main`, as the `rtstyle` script calls it): a process per case would
    spend its time importing torch."""
    from rtstyle.cli import main

    monkeypatch.chdir(tmp_path)
    try:
        status = main(args)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert says in err.strip().splitlines()[-1] and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("args, says", [
    (["--height", "100000"], "177778x100000 (--height 100000) are larger than rtstyle handles"),
    (["--scale", "50"], "16000x9000 (--scale 50) are larger than rtstyle handles"),
])
def test_frames_too_large_are_refused_before_any_work(tmp_path, clip, args, says):
    big = tmp_path / "out.mp4"
    proc = run_cli("convert", clip, "-o", big, "--style", "mosaic", *args, timeout=120)
    assert proc.returncode == 1 and says in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not big.exists()


def test_frames_larger_than_free_memory_are_refused(monkeypatch):
    from rtstyle.errors import RtstyleError
    from rtstyle.sources import files

    monkeypatch.setattr(files, "available_memory", lambda: 2 * 10**9)  # a machine with 2 GB free
    assert files.scaled_size(1920, 1080) == (1920, 1080)
    with pytest.raises(RtstyleError, match=r"8000x8000 need about 15.4 GB of memory and 2.0 GB is free"):
        files.scaled_size(8000, 8000)


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.2, 1.8])
def test_ctrl_c_while_starting_up_is_one_line(tmp_path, clip, delay):
    """Ctrl-C lands in the imports (torch takes a second or two), not only in the work."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "convert", str(clip), "-o", str(tmp_path / "o.mp4"),
                             "--style", "mosaic", "-q"], stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert proc.returncode in (0, 130, -signal.SIGINT), err  # done already, stopped, or before Python started


def test_the_cli_reference_is_generated_from_the_parser():
    """docs/cli.md is every command's --help: a changed option without a regenerated file fails here."""
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "make_cli_docs.py"), "--check"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = (ROOT / "docs" / "cli.md").read_text()
    assert "## rtstyle convert" in text and "--teacher-scale" in text


def test_help_does_not_import_torch():
    """`rtstyle --help` and every command's --help stay quick: the parser imports no torch."""
    code = ("import sys\nfrom rtstyle.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in ('torch', 'onnxruntime', 'av') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
