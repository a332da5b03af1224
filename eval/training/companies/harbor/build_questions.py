"""Write eval/training/questions/harbor.jsonl from questions_part*.py (run from this folder)."""
import json
import random
from pathlib import Path

import questions_part1
import questions_part2
import questions_part3
import questions_part4
import questions_part5

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "questions" / "harbor.jsonl"

KEYS = ["id", "question", "answerable", "source", "section", "caption", "answer_facts", "category", "style",
        "asker_class", "also_in", "near_miss", "rewordings"]


def main() -> None:
    items = questions_part1.Q + questions_part2.Q + questions_part3.Q + questions_part4.Q + questions_part5.Q
    random.Random(20261202).shuffle(items)
    with OUT.open("w", encoding="utf-8") as f:
        for n, item in enumerate(items, 1):
            item["id"] = f"harbor-{n:03d}"
            row = {k: item[k] for k in KEYS if k in item}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} questions to {OUT}")


if __name__ == "__main__":
    main()
