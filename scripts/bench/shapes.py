"""Input shapes and the OpenVINO encoder: `python -m scripts.bench.shapes [--export-dir DIR]`.

OpenVINO's CPU plugin compiles and keeps kernels for each input shape it meets. This encodes one query at
each of 148 lengths (5 to 299 words, so every token count up to the model's limit), twice, in a fresh
process per setting: batches padded to their longest text only (`pad_multiple` 1), and to a multiple of
`matcher.encoders.openvino_backend.PAD_MULTIPLE` tokens (the default). Prints one JSON object with, per setting, the
resident memory the encoder gained over the 296 encodes and the mean time of an encode in each pass, and
the smallest cosine between the two settings' vectors of the same text.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from matcher.encoders.openvino_backend import PAD_MULTIPLE

_CHILD = """
import json, resource, statistics, sys, time
from pathlib import Path
from matcher.encoders.openvino_backend import OpenVINOEmbedder
resident = lambda: int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize() / 2**20
model = OpenVINOEmbedder(export_dir=Path(sys.argv[1]), pad_multiple=int(sys.argv[2]))
model.encode(["warm-up"])
words = ("seafloor geodesy of slow slip on subduction megathrusts and tsunami early warning " * 40).split()
texts = [" ".join(words[:n]) for n in range(5, 300, 2)]
before, passes, vectors = resident(), [], []
for _ in range(2):
    times = []
    for text in texts:
        start = time.perf_counter()
        vectors.append(model.encode([text])[0].tolist())
        times.append(time.perf_counter() - start)
    passes.append(statistics.mean(times) * 1000)
print(json.dumps({"rss_growth_mb": resident() - before, "first_pass_ms": passes[0], "second_pass_ms": passes[1],
                  "vectors": vectors[: len(texts)]}))
"""


def _run(export_dir: Path, multiple: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(export_dir), str(multiple)], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export-dir", type=Path, help="where the converted model is (or goes); default temporary")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        export_dir = args.export_dir or Path(scratch)
        runs = {f"pad_{multiple}": _run(export_dir, multiple) for multiple in (1, PAD_MULTIPLE)}
    vectors = [np.array(run.pop("vectors"), dtype=np.float32) for run in runs.values()]
    report: dict[str, object] = {
        f"{name}_{key}": round(float(value), 3)  # type: ignore[arg-type]
        for name, run in runs.items()
        for key, value in run.items()
    }
    report["min_cosine_between"] = round(float((vectors[0] * vectors[1]).sum(axis=1).min()), 7)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
