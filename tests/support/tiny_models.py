"""Tiny transformer models made by the tests themselves (no network): a BERT cross-encoder whose score is driven by
one token, and a sentence-transformers embedder with random weights. Hidden size 32, two layers, a WordPiece
vocabulary written here; saved with `save_pretrained` / `SentenceTransformer.save` and loaded through the same
settings a company would use (`MADOGUCHI_RERANKER=cross-encoder:<path>`, `MADOGUCHI_EMBEDDER=sentence-transformers:<path>`)."""

from __future__ import annotations

import os
from pathlib import Path

# No network, ever: set before any Hugging Face library is imported (module-scoped fixtures build models before the
# autouse environment fixture runs).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# CJK characters are split one by one by BERT's basic tokenizer, so single characters are whole tokens.
WORDS = list(dict.fromkeys("有給休暇出張日当経費申請備品年次何いつまでですかはのをにがとで")) + [
    "leave",
    "paid",
    "travel",
    "how",
]
MAGIC = "猫"  # the token that drives the cross-encoder's score


def write_vocab(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(SPECIAL + WORDS + [MAGIC]) + "\n", encoding="utf-8")
    return path


def _tokenizer(vocab: Path):
    from transformers import BertTokenizerFast

    words = vocab.read_text(encoding="utf-8").split("\n")
    ids = {w: i for i, w in enumerate(w for w in words if w)}
    try:  # transformers ≥ 5 takes the vocabulary itself
        return BertTokenizerFast(vocab=ids, do_lower_case=True, tokenize_chinese_chars=True)
    except TypeError:  # older releases read the file
        return BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True, tokenize_chinese_chars=True)


def _config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **extra,
    )


def make_cross_encoder(folder: Path, *, magic_weight: float = 4.0) -> Path:
    """A cross-encoder whose score rises with the share of MAGIC tokens in the (question, passage) pair.

    Every embedding is zero except MAGIC's; attention is uniform (zero queries and keys) and passes values through
    unchanged, the feed-forward blocks add nothing, so the [CLS] state after each layer is the normalized mean of
    the tokens — non-zero only when MAGIC occurs. The pooler and classifier read that one direction."""
    import torch
    from transformers import BertForSequenceClassification

    vocab = write_vocab(folder)
    tokenizer = _tokenizer(vocab)
    config = _config(tokenizer.vocab_size, num_labels=1)
    model = BertForSequenceClassification(config)
    magic = tokenizer.convert_tokens_to_ids(MAGIC)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        emb = model.bert.embeddings
        emb.word_embeddings.weight[magic, 0] = 1.0
        emb.word_embeddings.weight[magic, 1] = -1.0
        emb.LayerNorm.weight.fill_(1.0)
        eye = torch.eye(32)
        for layer in model.bert.encoder.layer:
            layer.attention.self.value.weight.copy_(eye)
            layer.attention.output.dense.weight.copy_(eye)
            layer.attention.output.LayerNorm.weight.fill_(1.0)
            layer.output.LayerNorm.weight.fill_(1.0)
        model.bert.pooler.dense.weight[0, 0] = 1.0
        model.classifier.weight[0, 0] = magic_weight
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_embedder(folder: Path) -> Path:
    """A sentence-transformers model (random tiny BERT + mean pooling) saved to `folder`."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertModel

    raw = folder / "bert"
    vocab = write_vocab(raw)
    tokenizer = _tokenizer(vocab)
    torch.manual_seed(0)
    BertModel(_config(tokenizer.vocab_size)).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=64)
    pooling = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    out = folder / "st"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(out))
    return out


MANUALS = {
    "就業規則.md": """---
title: 就業規則
---
# 就業規則
## 第2章 休暇
### 第10条（年次有給休暇）
1. 入社後6か月継続勤務し、所定労働日の8割以上出勤した者に、10日の年次有給休暇を与える。
2. 年次有給休暇を取得するときは、3日前までに勤怠システムで申請しなければならない。
### 第11条（特別休暇）
従業員が献血又は骨髄提供を行うときは、特別休暇として1日を与える。
### 第12条（賞与）
賞与は、毎年6月及び12月に支給する。
### 第13条（ペット休暇）
飼い猫の看病のため、年に1日の休暇を取得できる。
""",
    "旅費規程.md": """---
title: 旅費規程
---
# 旅費規程
### 第5条（日当）
出張の日当は、日帰り出張は1,000円、宿泊を伴う出張は1日につき2,000円とする。
### 第6条（宿泊費）
宿泊費は、1泊につき10,000円を上限として実費を支給する。
""",
}
MAGIC_SECTION = "第13条（ペット休暇）"


def write_manuals(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in MANUALS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
