"""The Medical Meadow rows added to the shipped adapter's training mix (issue 13): short, specific answers only.

Reads ../shared/data (present on the build machine, absent in a user's clone) and writes
outputs/shipped/wikidoc_short.jsonl in the medalpaca schema: questions asked once in the file (generic
ones such as "When to seek urgent medical care?" repeat with different answers), answers of 60-400
characters (they go whole into a grounded prompt), 240 rows drawn with a fixed seed.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from medassist.files import write_text

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "medical_meadow_wikidoc_patient_information.json"
OUT = ROOT / "outputs" / "shipped" / "wikidoc_short.jsonl"
ROWS, SEED = 240, 0


def main() -> None:
    if not SOURCE.is_file():
        raise SystemExit(f"{SOURCE} not found: this step needs the build machine's shared data")
    rows = json.loads(SOURCE.read_text(encoding="utf-8"))
    asked = Counter(row["input"].strip().casefold() for row in rows)
    usable = [row for row in rows if asked[row["input"].strip().casefold()] == 1 and 60 <= len(row["output"]) <= 400]
    chosen = random.Random(SEED).sample(usable, ROWS)
    write_text(OUT, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in chosen))
    print(f"{len(usable)} usable of {len(rows)} rows; wrote {ROWS} to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
