"""Sudachi-based tokenizer for the lexical index: normalized forms of content words.

Japanese text is split with Sudachi (mode C for whole compounds, plus the mode-A parts of long
compounds so that 「年次有給休暇」 also matches 「有給」 and 「休暇」). Latin words are lower-cased and
lightly stemmed so that English manuals work too.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata

_CONTENT_POS = {"名詞", "動詞", "形容詞", "副詞", "形状詞", "接頭辞", "代名詞"}
# Very common words that carry no topic in a question or a regulation.
_JA_STOP = {
    "為る",
    "有る",
    "居る",
    "成る",
    "出来る",
    "言う",
    "行う",
    "思う",
    "事",
    "物",
    "者",
    "方",
    "所",
    "時",
    "等",
    "様",
    "其の",
    "此の",
    "此れ",
    "其れ",
    "どこ",
    "何",
    "いつ",
    "誰",
    "どう",
    "どれ",
    "どの",
    "良い",
    "いい",
    "無い",
    "ない",
    "下さる",
    "頂く",
    "貰う",
    "呉れる",
    "くる",
    "来る",
    "見る",
    "置く",
    "了う",
    "しまう",
    "場合",
    "次",
    "前",
    "同",
    "当該",
    "規定",
    "定め",
    "定める",
    "本",
    "第",
    "条",
    "項",
    "号",
    "ちゃう",
    "って",
    "何時",
    "幾ら",
    "可能",
    "必要",
    "出す",
    "取る",
    "使う",
    "する",
    "会社",
    "社員",
    # conversational words of a question that name no topic (「…ってダメ？」「すぐ」「教えてください」)
    *("駄目", "直ぐ", "教える", "分かる", "知る", "困る", "大丈夫", "宜しい", "願う", "一寸", "結局", "聞く"),
    *("一応", "普通", "実際", "色々", "何か", "大体", "多分", "本当", "全然", "矢張り", "そもそも", "ちょっと"),
}
_EN_STOP = set(
    """a an the and or but if of to in on at for from by with about as is are was were be been being do does did
    have has had i me my we our you your he she it its they them their this that these those there here what which
    who whom how when where why can could should would will shall may might must not no so than too very just
    any all each some such into out up down over under again then once also only own same both few more most other
    get got am s t d ll ve re m don doesn didn isn aren wasn weren won wouldn couldn shouldn""".split()
)
_LATIN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
_HAS_JA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


_stemmer_local = threading.local()


def _stem(word: str) -> str:
    """Snowball (Porter 2) English stemming: leave/leaves, travel/traveling, reimburse/reimbursement."""
    stemmer = getattr(_stemmer_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _stemmer_local.stemmer = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def is_japanese(text: str) -> bool:
    return bool(_HAS_JA.search(text))


class Tokenizer:
    """Thread-safe wrapper around one Sudachi tokenizer per thread."""

    def __init__(self) -> None:
        from sudachipy import dictionary
        from sudachipy import tokenizer as sudachi_tokenizer

        self._dictionary = dictionary.Dictionary(dict="core")
        self._mode_c = sudachi_tokenizer.Tokenizer.SplitMode.C
        self._mode_a = sudachi_tokenizer.Tokenizer.SplitMode.A
        self._local = threading.local()

    def _sudachi(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            tok = self._local.tok = self._dictionary.create()
        return tok

    def tokens(self, text: str) -> list[str]:
        """Content-word tokens (normalized form) of `text`, in order, with repeats."""
        text = unicodedata.normalize("NFKC", text)
        if not is_japanese(text):
            return self._latin_tokens(text)
        out: list[str] = []
        sudachi = self._sudachi()
        # Sudachi refuses inputs over ~49k bytes: feed it line by line.
        for line in text.splitlines():
            if not line.strip():
                continue
            for m in sudachi.tokenize(line[:12000], self._mode_c):
                pos = m.part_of_speech()[0]
                if pos not in _CONTENT_POS:
                    continue
                surface = m.surface()
                if _LATIN.fullmatch(surface.lower()):
                    out.extend(self._latin_tokens(surface))
                    continue
                norm = m.normalized_form()
                if norm in _JA_STOP or (len(norm) == 1 and pos not in {"名詞"}):
                    continue
                out.append(norm)
                if len(surface) >= 4 and pos == "名詞":
                    parts = m.split(self._mode_a)
                    if len(parts) > 1:
                        out.extend(
                            p.normalized_form()
                            for p in parts
                            if p.part_of_speech()[0] in _CONTENT_POS and len(p.surface()) > 1
                        )
        return out

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Tokenizer per process, kept for its life
    def term_tokens(self, text: str) -> tuple[str, ...]:
        """Tokens of a fixed phrase (glossary keys and terms), cached: they recur on every question."""
        return tuple(self.tokens(text))

    def _latin_tokens(self, text: str) -> list[str]:
        return [_stem(w) for w in _LATIN.findall(text.lower()) if w not in _EN_STOP]
