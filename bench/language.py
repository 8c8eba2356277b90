"""The built-in language detector against lingua: accuracy, speed, start-up, memory, size.

``grader.scoring.language.detect`` counts function words (no model, ``""`` when fewer than 8
of them are found); ``lingua-language-detector`` is a statistical n-gram detector. Both are
run on labelled texts already in the repository:

- SAF train answers (``tests/data/saf-en/train.jsonl``), all English, and separately the
  short ones (fewer than 15 words);
- the graded health-check sample (``tests/data/health-check/*.md``), all English;
- the adversarial answers (``tests/data/adversarial/answers/*.md``): kind ``language`` ones
  are French, German, Spanish or Italian (read by hand, see ``FOREIGN``), the rest English;
- short snippets of each non-English answer: its first prose sentence and its first 20
  words of prose, each cut to at most 20 words.

Lingua is restricted to the seven languages the built-in detector knows, in low- and
high-accuracy mode. Prints accuracy (``""`` / no answer counts as wrong), the rate of
English texts called another language, the rate of non-English texts not called foreign,
microseconds per text (best of ``--repeat`` passes over the whole set, after a warm-up),
lingua's import, build and first-detection (lazy model loading) time and resident memory
growth (each measured in a fresh subprocess) and lingua's size on disk.

    .venv/bin/pip install lingua-language-detector   # benchmark dependency only
    .venv/bin/python bench/language.py [--repeat N] [--show]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data"
LANGUAGE_PY = ROOT / "grader" / "scoring" / "language.py"
SHORT = 15  # SAF answers with fewer words than this are "short"
SNIPPET_WORDS = 20
# True language of the adversarial answers of kind "language", read by hand. f20 is mixed:
# English template headings, but every sentence of its body is Italian, so it counts as
# Italian (it is the answer grader must send to review). Every other adversarial answer,
# and every health-check and SAF answer, is English.
FOREIGN = {
    "f01": "fr",  # French, translated template headings
    "f02": "fr",  # French continuous prose
    "f03": "de",  # German, translated template headings
    "f04": "de",  # German tables and bullets
    "f05": "es",  # Spanish, translated template headings
    "f06": "fr",  # French, mediocre answer
    "f07": "de",  # German, weak answer
    "f20": "it",  # English headings, Italian body
}
LINGUA_MODES = ("low", "high")
INSTALL = ".venv/bin/pip install lingua-language-detector"

Detector = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Sample:
    ident: str
    group: str  # saf, health-check, adversarial, snippet
    code: str  # true language
    text: str

    @property
    def short(self) -> bool:
        return self.group == "saf" and len(self.text.split()) < SHORT


# -- the labelled set ------------------------------------------------------------------------


def prose_lines(text: str) -> list[str]:
    """The answer's prose lines, Markdown markup removed (headings, tables, code skipped)."""
    out: list[str] = []
    fenced = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line or line.startswith(("#", "|", "<", ">")):
            continue
        line = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", line)
        line = re.sub(r"[*_`]+", "", line).strip()
        if line:
            out.append(line)
    return out


def snippets(ident: str, code: str, text: str) -> list[Sample]:
    """The first prose sentence (of at least 5 words) and the first 20 words of prose."""
    lines = prose_lines(text)
    sentences = [s for line in lines for s in re.split(r"(?<=[.!?])\s+", line)]
    first = next((s for s in sentences if len(s.split()) >= 5), sentences[0] if sentences else "")
    words = " ".join(lines).split()
    cuts = [" ".join(first.split()[:SNIPPET_WORDS]), " ".join(words[:SNIPPET_WORDS])]
    out: list[Sample] = []
    for i, cut in enumerate(dict.fromkeys(c for c in cuts if c)):
        out.append(Sample(f"{ident}:{'sentence' if i == 0 else 'words'}", "snippet", code, cut))
    return out


def labelled() -> list[Sample]:
    samples: list[Sample] = []
    with (DATA / "saf-en" / "train.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if line.strip():
                record = json.loads(line)
                samples.append(Sample(record.get("id", f"saf-{i}"), "saf", "en", record["answer"]))
    for path in sorted((DATA / "health-check").glob("sub-*.md")):
        samples.append(Sample(path.stem, "health-check", "en", path.read_text(encoding="utf-8")))
    short: list[Sample] = []
    with (DATA / "adversarial" / "manifest.tsv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            ident = row["id"]
            text = (DATA / "adversarial" / "answers" / f"{ident}.md").read_text(encoding="utf-8")
            if row["kind"] == "language":
                code = FOREIGN[ident]
                short += snippets(ident, code, text)
            else:
                code = "en"
            samples.append(Sample(ident, "adversarial", code, text))
    return samples + short


# -- the detectors ---------------------------------------------------------------------------


def load_builtin() -> ModuleType:
    """grader/scoring/language.py alone (not the grader.scoring package, for a fair RSS)."""
    spec = importlib.util.spec_from_file_location("_bench_language", LANGUAGE_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks the module up
    spec.loader.exec_module(module)
    return module


def builtin_detector() -> Detector:
    from grader.scoring.language import detect

    return lambda text: detect(text).code


def lingua_installed() -> bool:
    return importlib.util.find_spec("lingua") is not None


def lingua_detector(mode: str) -> Detector:
    """The seven languages of the built-in detector, in low- or high-accuracy mode."""
    from lingua import Language, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_languages(
        Language.ENGLISH,
        Language.FRENCH,
        Language.GERMAN,
        Language.SPANISH,
        Language.ITALIAN,
        Language.PORTUGUESE,
        Language.DUTCH,
    )
    if mode == "low":
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else ""

    return detect


# -- start-up and memory, in a fresh process -------------------------------------------------


def rss_mb() -> tuple[float, str]:
    """Resident memory in MiB: psutil's RSS if present, else /proc's VmRSS, else the peak RSS
    from getrusage (which Linux carries over an exec from the parent: the probes run first)."""
    try:
        psutil = importlib.import_module("psutil")  # optional, not a dependency
        return float(psutil.Process().memory_info().rss) / 2**20, "RSS, psutil"
    except ImportError:
        pass
    try:
        status = Path("/proc/self/status").read_text()
        kib = re.search(r"^VmRSS:\s*(\d+) kB", status, re.MULTILINE)
        if kib:
            return int(kib.group(1)) / 2**10, "VmRSS, /proc/self/status"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10), "peak RSS, getrusage"


def probe(which: str) -> dict[str, float | str]:
    """Import, build and first-detection time and RSS growth of one detector."""
    warm = [
        "The model has degraded and the drift detection of the team is disabled.",
        "Le modèle s'est dégradé et la détection de dérive est désactivée.",
        "Das Modell ist schlechter geworden und die Drift-Erkennung ist deaktiviert.",
    ]
    base, how = rss_mb()
    t0 = time.perf_counter()
    if which == "builtin":
        module = load_builtin()
        t1 = time.perf_counter()
        detect: Detector = lambda text: module.detect(text).code  # noqa: E731
    else:
        import lingua  # noqa: F401

        t1 = time.perf_counter()
        detect = lingua_detector(which)
    t2 = time.perf_counter()
    built, _ = rss_mb()
    for text in warm:
        detect(text)
    t3 = time.perf_counter()
    after, _ = rss_mb()
    return {
        "import_s": t1 - t0,
        "build_s": t2 - t1,
        "first_s": t3 - t2,
        "rss_build_mb": built - base,
        "rss_mb": after - base,
        "rss_how": how,
    }


def run_probe(which: str) -> dict[str, float | str] | None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe", which],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"probe {which} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    result: dict[str, float | str] = json.loads(done.stdout)
    return result


def disk_mb(paths: Sequence[Path]) -> float:
    """Like du: allocated blocks of every file under paths, in MiB."""
    total = 0
    for top in paths:
        for folder, _, files in os.walk(top):
            for name in files:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total / 2**20


def lingua_paths() -> list[Path]:
    spec = importlib.util.find_spec("lingua")
    if spec is None or spec.origin is None:
        return []
    package = Path(spec.origin).parent
    return [package, *sorted(package.parent.glob("lingua_language_detector-*.dist-info"))]


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    found: list[str]
    us_all: float
    us_long: float


def measure(name: str, detect: Detector, samples: list[Sample], repeat: int) -> Result:
    texts = [s.text for s in samples]
    long = [s.text for s in samples if s.group in ("health-check", "adversarial")]
    found = [detect(t) for t in texts]  # also the warm-up (lingua loads models lazily)

    def best(batch: list[str]) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for t in batch:
                detect(t)
            times.append(time.perf_counter() - t0)
        return min(times) / len(batch) * 1e6

    return Result(name, found, best(texts), best(long))


def rate(hits: Sequence[bool]) -> str:
    if not hits:
        return "-"
    return f"{sum(hits) / len(hits):.1%} ({sum(hits)}/{len(hits)})"


def report(samples: list[Sample], results: list[Result], show: bool) -> None:
    def subset(keep: Callable[[Sample], bool]) -> list[int]:
        return [i for i, s in enumerate(samples) if keep(s)]

    answers = subset(lambda s: s.group != "snippet")
    english = subset(lambda s: s.code == "en")
    # SAF's blank answers ("No response."): English, but two words with no content.
    placeholder = re.compile(r"\s*no response\.?\s*", re.IGNORECASE)
    worded = [i for i in english if not placeholder.fullmatch(samples[i].text)]
    foreign = subset(lambda s: s.group != "snippet" and s.code != "en")
    saf_short = subset(lambda s: s.short)
    snippet = subset(lambda s: s.group == "snippet")
    every = list(range(len(samples)))

    def accuracy(r: Result, idx: list[int]) -> str:
        return rate([r.found[i] == samples[i].code for i in idx])

    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("accuracy, all texts", lambda r: accuracy(r, every)),
        ("accuracy, whole answers", lambda r: accuracy(r, answers)),
        ("accuracy, English texts", lambda r: accuracy(r, english)),
        ("accuracy, non-English answers", lambda r: accuracy(r, foreign)),
        (f"accuracy, SAF short (<{SHORT} words)", lambda r: accuracy(r, saf_short)),
        ("accuracy, non-English snippets", lambda r: accuracy(r, snippet)),
        ("no answer (''), all texts", lambda r: rate([r.found[i] == "" for i in every])),
        (
            "false 'foreign', English texts",
            lambda r: rate([r.found[i] not in ("", "en") for i in english]),
        ),
        (
            "  the same, without 'No response.'",
            lambda r: rate([r.found[i] not in ("", "en") for i in worded]),
        ),
        (
            "missed foreign (en or ''), non-Eng.",
            lambda r: rate([r.found[i] in ("", "en") for i in foreign + snippet]),
        ),
        ("us per text, all texts", lambda r: f"{r.us_all:.1f}"),
        ("us per text, long answers", lambda r: f"{r.us_long:.1f}"),
    ]
    width = max(len(label) for label, _ in rows) + 2
    col = 22
    print(f"{'':<{width}}" + "".join(f"{r.name:>{col}}" for r in results))
    for label, cell in rows:
        print(f"{label:<{width}}" + "".join(f"{cell(r):>{col}}" for r in results))
    if show:
        for r in results:
            wrong = [
                (samples[i], r.found[i])
                for i in every
                if r.found[i] != samples[i].code and (samples[i].code != "en" or r.found[i])
            ]
            print(f"\n{r.name}: wrong calls ('' on English not listed): {len(wrong)}")
            for s, got in wrong:
                print(f"  {s.ident:<16}{s.code} -> {got or '-':<3} {s.text[:70]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed passes, best is kept")
    parser.add_argument("--show", action="store_true", help="list every wrong call")
    parser.add_argument("--probe", choices=("builtin", *LINGUA_MODES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return 0

    have_lingua = lingua_installed()
    # Start-up and memory first, while this process is small (see rss_mb).
    names = ["builtin", *(LINGUA_MODES if have_lingua else ())]
    probes = {name: run_probe(name) for name in names}

    samples = labelled()
    n_en = sum(1 for s in samples if s.code == "en")
    n_snip = sum(1 for s in samples if s.group == "snippet")
    print(
        f"{len(samples)} texts: {n_en} English ({sum(1 for s in samples if s.short)} short SAF), "
        f"{len(samples) - n_en - n_snip} non-English answers, {n_snip} non-English snippets"
    )
    if not have_lingua:
        print(f"lingua is not installed; only the built-in detector is measured. Run: {INSTALL}")
    results = [measure("built-in", builtin_detector(), samples, args.repeat)]
    if have_lingua:
        for mode in LINGUA_MODES:
            results.append(measure(f"lingua {mode}", lingua_detector(mode), samples, args.repeat))
    print()
    report(samples, results, args.show)

    print("\nstart-up and memory (fresh process each, lingua with lazy model loading):")
    how = next((str(p["rss_how"]) for p in probes.values() if p), "RSS")
    header = f"{'':<12}{'import ms':>11}{'build ms':>10}{'1st detect ms':>15}"
    print(header + f"{'RSS growth MiB':>16}  ({how}, from before the import)")
    for name, p in probes.items():
        if p is None:
            continue
        label = name if name == "builtin" else f"lingua {name}"
        print(
            f"{label:<12}{float(p['import_s']) * 1e3:>11.1f}{float(p['build_s']) * 1e3:>10.1f}"
            f"{float(p['first_s']) * 1e3:>15.1f}{float(p['rss_mb']):>16.1f}"
        )

    print("\non disk:")
    print(f"  built-in  0 extra ({LANGUAGE_PY.stat().st_size / 1024:.1f} KiB, part of grader)")
    if have_lingua:
        print(f"  lingua    {disk_mb(lingua_paths()):.1f} MiB (package + dist-info, du-style)")
    else:
        print(f"  lingua    not installed ({INSTALL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
