"""The peer engines the benchmarks compare scandex with: Tesseract 5 and RapidOCR.

Tesseract (Debian's tesseract-ocr, English model) runs as a subprocess with OMP_THREAD_LIMIT=1,
timed two ways: one process per image (start-up and model load counted every time, as a
script calling `tesseract IMG -` pays them), and one process for a whole list of images
(`tesseract LIST.txt -`, output pages separated by form feeds), where start-up is paid once.
CPU seconds come from the children's resource usage.

RapidOCR lives in its own virtual environment (default /work/bench-venv, see README.md) so
that it never touches the project's: this file, run with that environment's python as
`peers.py rapidocr-runner lines|pages`, reads a JSON list of image paths on stdin and prints
one JSON document with each image's text and in-process seconds (models loaded and warmed
up before timing, onnxruntime with one thread). Module-level imports are stdlib only so
that both environments can import it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RAPIDOCR_PYTHON = "/work/bench-venv/bin/python"
_ONE_THREAD = {"OMP_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Timed:
    """What one engine made of a set of images, and what it cost."""

    texts: list[str]
    wall_s: float  # all images together
    cpu_s: float  # user + system, all processes and threads of the engine
    note: str = ""  # how it was run, briefly
    about: str = ""  # versions and models, where the engine reports them
    item_wall_s: tuple[float, ...] = ()  # per image, where each was timed on its own
    item_cpu_s: tuple[float, ...] = ()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_timed(command: Sequence[str], env: dict[str, str]) -> tuple[str, float, float]:
    """(stdout, wall seconds, child CPU seconds) of one subprocess run to completion."""
    cpu0, wall0 = _children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    wall, cpu = time.perf_counter() - wall0, _children_cpu_s() - cpu0
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {reason[0]}")
    return done.stdout.decode("utf-8", errors="replace"), wall, cpu


# -- Tesseract -----------------------------------------------------------------------------


def tesseract_version() -> str | None:
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, check=False)
    except FileNotFoundError:
        return None
    text = (out.stdout or out.stderr).decode(errors="replace").splitlines()
    return text[0].strip() if text else "tesseract (unknown version)"


def _tesseract_command(image: str, psm: int, dpi: int | None) -> list[str]:
    command = ["tesseract", image, "-", "--psm", str(psm), "-l", "eng"]
    return command + (["--dpi", str(dpi)] if dpi else [])


def tesseract_each(paths: Sequence[str], *, psm: int, dpi: int | None = None) -> Timed:
    """One `tesseract IMG -` process per image; times include each process's start-up."""
    env = {**os.environ, **_ONE_THREAD}
    texts, walls, cpus = [], [], []
    for path in paths:
        text, wall, cpu = _run_timed(_tesseract_command(path, psm, dpi), env)
        texts.append(text.replace("\f", "").strip())
        walls.append(wall)
        cpus.append(cpu)
    return Timed(
        texts, sum(walls), sum(cpus), "one process per image", "", tuple(walls), tuple(cpus)
    )


def tesseract_list(paths: Sequence[str], *, psm: int, dpi: int | None = None) -> Timed | None:
    """One `tesseract LIST.txt -` process for all images (start-up paid once).

    None when the output cannot be split back into one text per image."""
    env = {**os.environ, **_ONE_THREAD}
    with tempfile.TemporaryDirectory(prefix="scandex-bench-") as tmp:
        listing = Path(tmp, "images.txt")
        listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
        out, wall, cpu = _run_timed(_tesseract_command(str(listing), psm, dpi), env)
    pages = out.split("\f")
    if pages and not pages[-1].strip() and len(pages) == len(paths) + 1:
        pages = pages[:-1]
    if len(pages) != len(paths):
        return None
    return Timed([p.strip() for p in pages], wall, cpu, "one process, image list")


@dataclass(frozen=True)
class TesseractLine:
    """One text line of Tesseract's layout analysis: its box (x0, y0, x1, y1) and words."""

    box: tuple[int, int, int, int]
    text: str


def tesseract_lines(
    path: str, *, psm: int = 3, dpi: int | None = None
) -> tuple[list[TesseractLine], float, float]:
    """Tesseract's text lines (level-4 rows of its TSV output) in its reading order, with the
    wall and CPU seconds of the one process that found and read them."""
    env = {**os.environ, **_ONE_THREAD}
    out, wall, cpu = _run_timed([*_tesseract_command(path, psm, dpi), "tsv"], env)
    lines: dict[tuple[str, ...], list] = {}
    for row in out.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12:
            continue
        key = tuple(cells[1:5])  # page, block, paragraph, line
        x, y, w, h = (int(v) for v in cells[6:10])
        if cells[0] == "4":
            lines[key] = [(x, y, x + w, y + h), []]
        elif cells[0] == "5" and key in lines and cells[11].strip():
            lines[key][1].append(cells[11].strip())
    found = [TesseractLine(box, " ".join(words)) for box, words in lines.values() if words]
    return found, wall, cpu


def tesseract_startup_s(repeat: int = 3) -> float:
    """Wall seconds of a tesseract run on a tiny blank image: process start plus model load."""
    with tempfile.TemporaryDirectory(prefix="scandex-bench-") as tmp:
        blank = Path(tmp, "blank.pgm")
        blank.write_bytes(b"P5\n64 32\n255\n" + b"\xff" * (64 * 32))
        env = {**os.environ, **_ONE_THREAD}
        times = [_run_timed(_tesseract_command(str(blank), 7, 300), env)[1] for _ in range(repeat)]
    return min(times)


# -- RapidOCR (client side, runs in the benchmark's process) ---------------------------------


def rapidocr_available(python: str) -> str | None:
    """None when usable, else why not."""
    if not Path(python).exists():
        return f"{python} not found (set it up as README.md says, or pass --skip-rapidocr)"
    probe = subprocess.run(
        [python, "-c", "import rapidocr, onnxruntime, cv2"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"{python} cannot import rapidocr: {probe.stderr.decode(errors='replace')[-200:]}"
    return None


def rapidocr(paths: Sequence[str], *, mode: str, python: str) -> Timed:
    """Run the RapidOCR runner in its own environment; mode 'lines' or 'pages'."""
    env = {**os.environ, **_ONE_THREAD}
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    done = subprocess.run(
        [python, os.path.abspath(__file__), "rapidocr-runner", mode],
        input=json.dumps(list(paths)).encode(),
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError("RapidOCR runner failed: " + " | ".join(tail))
    report = json.loads(done.stdout)
    items = report["items"]
    how = "one batched call" if mode == "line-batch" else "in-process, per image"
    walls = tuple(item["seconds"] for item in items)
    cpus = tuple(item["cpu_seconds"] for item in items)
    return Timed(
        [item["text"] for item in items],
        sum(walls),
        sum(cpus),
        how,
        report["about"],
        () if mode == "line-batch" else walls,
        () if mode == "line-batch" else cpus,
    )


def rapidocr_line_batch(paths: Sequence[str], *, python: str) -> Timed:
    """RapidOCR's recognizer on all lines in one batched call (its default batch of 6)."""
    return rapidocr(paths, mode="line-batch", python=python)


# -- RapidOCR (runner side, runs inside the bench venv) -------------------------------------


def _runner_engine():
    from rapidocr import RapidOCR

    return RapidOCR(
        params={
            "Global.log_level": "critical",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


def _runner_about(engine, mode: str) -> str:
    from importlib import metadata

    def model(part) -> str:
        names = [getattr(v, "value", v) for v in (part.ocr_version, part.model_type)]
        return f"{names[0]} {part.task_type.value} {names[1]} ({part.lang_type.value})"

    cfg = engine.cfg
    if mode == "pages":
        steps = f"det+cls+rec: {model(cfg.Det)}, {model(cfg.Rec)}"
    else:
        steps = f"recognizer only (use_det=False, use_cls=False): {model(cfg.Rec)}"
    return (
        f"rapidocr {metadata.version('rapidocr')}, onnxruntime {metadata.version('onnxruntime')},"
        f" 1 thread, {steps}, models shipped in the wheel"
    )


def _rapidocr_runner(mode: str) -> None:
    import cv2

    paths = json.load(sys.stdin)
    engine = _runner_engine()
    images = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths]
    flags = (
        {"use_det": True, "use_cls": True, "use_rec": True}
        if mode == "pages"
        else {"use_det": False, "use_cls": False, "use_rec": True}
    )
    engine(images[0], **flags)  # load the models and warm up before timing
    items = []
    if mode == "line-batch":
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = engine.recognize_txt(images)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        texts = list(result.txts or [""] * len(images))
        items = [{"text": t, "seconds": 0.0, "cpu_seconds": 0.0} for t in texts]
        items[0].update(seconds=wall, cpu_seconds=cpu)  # the batch's cost, counted once
    else:
        for image in images:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            result = engine(image, **flags)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            text = "\n".join(getattr(result, "txts", None) or ())
            items.append({"text": text, "seconds": wall, "cpu_seconds": cpu})
    print(json.dumps({"about": _runner_about(engine, mode), "items": items}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "rapidocr-runner":
        _rapidocr_runner(sys.argv[2])
    else:
        sys.exit("usage: peers.py rapidocr-runner lines|line-batch|pages  (image paths on stdin)")


def add_peer_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark shares for choosing which peers run beside scandex."""
    parser.add_argument("--skip-rapidocr", action="store_true")
    parser.add_argument("--skip-tesseract", action="store_true")
    parser.add_argument("--rapidocr-python", default=DEFAULT_RAPIDOCR_PYTHON)


def resolve_peers(args: argparse.Namespace) -> argparse.Namespace:
    """Set args.tesseract (bool) and args.rapidocr_python (None when RapidOCR cannot run)."""
    args.tesseract = not args.skip_tesseract and tesseract_version() is not None
    if args.skip_rapidocr:
        args.rapidocr_python = None
    elif why := rapidocr_available(args.rapidocr_python):
        print(f"RapidOCR skipped: {why}")
        args.rapidocr_python = None
    return args
